package dev.fovea.optim;

/** The learning rate for step t (counting from 0). */
@FunctionalInterface
public interface LrSchedule {
    float lr(long step);

    static LrSchedule constant(float lr) { return t -> lr; }

    /** lr·gamma^⌊t/every⌋, as torch.optim.lr_scheduler.StepLR stepped per iteration. */
    static LrSchedule step(float lr, long every, float gamma) {
        if (every < 1) throw new IllegalArgumentException("step schedule: every must be >= 1, got " + every);
        return t -> (float) (lr * Math.pow(gamma, t / every));
    }

    /**
     * Linear warm-up from 0 over {@code warmup} steps, then cosine decay to {@code min} at step {@code total}
     * (held at {@code min} after).
     */
    static LrSchedule cosine(float lr, long warmup, long total, float min) {
        if (warmup < 0 || total < 1 || warmup > total)
            throw new IllegalArgumentException("cosine schedule: need 0 <= warmup <= total and total >= 1, got warmup " + warmup + " total " + total);
        return t -> {
            if (t < warmup) return lr * (t + 1) / (float) warmup;
            if (t >= total) return min;
            double p = (double) (t - warmup) / Math.max(1, total - warmup);
            return (float) (min + (lr - min) * 0.5 * (1 + Math.cos(Math.PI * p)));
        };
    }
}
