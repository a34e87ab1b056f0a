package dev.fovea.bench;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A soak test: many training steps of one model (its default optimizer, at its peak learning rate), sampling the
 * backend's live tensor bytes and the JVM's heap after a full collection every so many steps — both should stay
 * flat: nothing a step allocates may outlive it.
 */
public final class SoakBench {
    private SoakBench() {}

    /** After {@code step} steps: the backend's bytes in live tensors and the heap in use after a collection. */
    public record Sample(long step, long bytesInUse, long heapAfterGc) {}

    public static List<Sample> run(Backend be, String model, int batch, ImageDataset data, long steps, long every, PrintStream log) {
        if (steps < 1 || every < 1) throw new IllegalArgumentException("--steps and --every must be >= 1, got " + steps + " and " + every);
        if (data.count() < batch) throw new IllegalArgumentException("batch " + batch + " is larger than the data set (" + data.count() + " images)");
        TrainConfig cfg = TrainConfig.builder(model).batch(batch).augment(false).build();
        List<Sample> out = new ArrayList<>();
        try (Layer net = Models.create(be, model, null, 1); Optimizer opt = cfg.newOptimizer(be, net)) {
            ClassificationTask task = new ClassificationTask(be, net, cfg, data, null);
            Trainer<ClassificationTask.Batch> trainer = new Trainer<>(be, net, opt, cfg, task);
            TrainBench.Feed feed = new TrainBench.Feed(task, data.count(), batch);
            long[] accuracy = new long[2];
            long t0 = System.nanoTime();
            for (long s = 1; s <= steps; s++) {
                trainer.step(feed.next(), cfg.lr(), accuracy);
                if (s == 1 || s % every == 0 || s == steps) {
                    Sample m = sample(be, s);
                    out.add(m);
                    log.printf(Locale.ROOT, "  step %,8d: tensors %,12d bytes, heap after GC %,8.1f MB, %.0f s%n", s, m.bytesInUse(), m.heapAfterGc() / 1e6,
                            (System.nanoTime() - t0) / 1e9);
                }
            }
        }
        return out;
    }

    private static Sample sample(Backend be, long step) {
        be.synchronize();
        Runtime rt = Runtime.getRuntime();
        System.gc();
        System.gc();
        return new Sample(step, be.bytesInUse(), rt.totalMemory() - rt.freeMemory());
    }
}
