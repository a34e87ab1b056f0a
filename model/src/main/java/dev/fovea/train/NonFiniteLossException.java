package dev.fovea.train;

/** Training produced a NaN or infinite loss; parameters are left as they were before that step. */
public final class NonFiniteLossException extends RuntimeException {
    public final int epoch;
    public final long step;

    public NonFiniteLossException(int epoch, long step, float loss) {
        super("loss became " + loss + " at step " + step + " (epoch " + epoch + "); parameters were not updated by that step — try a smaller --lr");
        this.epoch = epoch;
        this.step = step;
    }
}
