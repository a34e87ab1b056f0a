package dev.fovea.bench;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * Training throughput: whole steps (batch upload, forward, loss, backward, SGD-momentum update) on real shuffled
 * batches, after a time-based warm-up; the median of repeated timed windows.
 */
public final class TrainBench {
    private TrainBench() {}

    /** With {@code profile}, the timed windows also print each op's share of a step, forward and backward. */
    public static double run(Backend be, String model, int batch, ImageDataset data, double warmup, int repeats, double seconds,
                             boolean profile, PrintStream log) {
        if (data.count() < batch) throw new IllegalArgumentException("batch " + batch + " is larger than the data set (" + data.count() + " images)");
        TrainConfig cfg = TrainConfig.builder(model).epochs(1).batch(batch).lr(0.01f).optimizer("sgd").weightDecay(0f).schedule("constant").warmup(0)
                .labelSmoothing(0f).augment(false).build();
        try (Layer net = Models.create(be, model, null, 1); Optimizer opt = cfg.newOptimizer(be, net.namedParameters())) {
            ClassificationTask task = new ClassificationTask(be, net, cfg, data, null);
            Trainer<ClassificationTask.Batch> trainer = new Trainer<>(be, net, opt, cfg, task);
            Feed feed = new Feed(task, data.count(), batch);
            // time-based warm-up: the Vector API kernels are slow until C2 has compiled them
            runFor(trainer, feed, warmup);
            double[] rates = new double[repeats];
            Tape.Profile prof = profile ? new Tape.Profile() : null;
            trainer.profile(prof);
            long steps0 = trainer.steps();
            for (int r = 0; r < repeats; r++) {
                rates[r] = runFor(trainer, feed, seconds);
                log.printf(Locale.ROOT, "  repeat %d: %.0f images/s%n", r + 1, rates[r]);
            }
            if (prof != null) printProfile(prof, trainer.steps() - steps0, log);
            Arrays.sort(rates);
            return rates[repeats / 2];
        }
    }

    /** Full batches only, epoch after epoch, each freshly shuffled; prepared on the calling thread (the loop's loader hides that time). */
    static final class Feed {
        private final ClassificationTask task;
        private final int count, batch;
        private int[] order;
        private int next;
        private long epoch;

        Feed(ClassificationTask task, int count, int batch) {
            this.task = task;
            this.count = count;
            this.batch = batch;
        }

        ClassificationTask.Batch next() {
            if (order == null || next + batch > count) {
                order = Batches.permutation(count, ++epoch);
                next = 0;
            }
            next += batch;
            return task.prepare(Arrays.copyOfRange(order, next - batch, next), null);
        }
    }

    private static void printProfile(Tape.Profile p, long steps, PrintStream log) {
        long total = 0;
        for (long[] v : p.totals().values()) total += v[0];
        log.printf(Locale.ROOT, "  per step, by op (wall time on the calling thread; profiling adds a little):%n");
        for (var e : p.totals().entrySet())
            log.printf(Locale.ROOT, "    %-44s %8.1f us  %5.1f %%%n", e.getKey(), e.getValue()[0] / 1e3 / steps, 100.0 * e.getValue()[0] / total);
        log.printf(Locale.ROOT, "    %-44s %8.1f us%n", "all ops", total / 1e3 / steps);
    }

    private static double runFor(Trainer<ClassificationTask.Batch> trainer, Feed feed, double seconds) {
        long t0 = System.nanoTime(), limit = (long) (seconds * 1e9), images = 0;
        long[] accuracy = new long[2];
        do {
            ClassificationTask.Batch b = feed.next();
            trainer.step(b, 0.01f, accuracy);
            images += b.size();
        } while (System.nanoTime() - t0 < limit);
        return images / ((System.nanoTime() - t0) / 1e9);
    }
}
