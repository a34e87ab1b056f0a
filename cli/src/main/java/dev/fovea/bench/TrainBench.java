package dev.fovea.bench;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.nn.Module;
import dev.fovea.optim.Optimizer;
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
        TrainConfig cfg = new TrainConfig(model, "", 1, batch, 0.01f, "sgd", 0.9f, 0f, false, "constant", 0, 1);
        try (Module net = Models.create(be, model, null, 1); Optimizer opt = cfg.newOptimizer(be, net.namedParameters())) {
            Trainer trainer = new Trainer(be, net, opt, cfg, data, 0);
            Feed feed = new Feed(data, batch);
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
            feed.close();
            Arrays.sort(rates);
            return rates[repeats / 2];
        }
    }

    /** Full batches only, epoch after epoch, each freshly shuffled. */
    private static final class Feed implements AutoCloseable {
        private final ImageDataset data;
        private final int batch;
        private Batches it;
        private long epoch;

        Feed(ImageDataset data, int batch) {
            if (data.count() < batch) throw new IllegalArgumentException("batch " + batch + " is larger than the data set (" + data.count() + " images)");
            this.data = data;
            this.batch = batch;
        }

        Batches.Batch next() {
            while (true) {
                if (it == null || !it.hasNext()) {
                    if (it != null) it.close();
                    it = new Batches(data, batch, ++epoch);
                }
                Batches.Batch b = it.next();
                if (b.size() == batch) return b;
            }
        }

        @Override public void close() { if (it != null) it.close(); }
    }

    private static void printProfile(Tape.Profile p, long steps, PrintStream log) {
        long total = 0;
        for (long[] v : p.totals().values()) total += v[0];
        log.printf(Locale.ROOT, "  per step, by op (wall time on the calling thread; profiling adds a little):%n");
        for (var e : p.totals().entrySet())
            log.printf(Locale.ROOT, "    %-44s %8.1f us  %5.1f %%%n", e.getKey(), e.getValue()[0] / 1e3 / steps, 100.0 * e.getValue()[0] / total);
        log.printf(Locale.ROOT, "    %-44s %8.1f us%n", "all ops", total / 1e3 / steps);
    }

    private static double runFor(Trainer trainer, Feed feed, double seconds) {
        long t0 = System.nanoTime(), limit = (long) (seconds * 1e9), images = 0;
        do {
            Batches.Batch b = feed.next();
            trainer.step(b, 0.01f, 1);
            images += b.size();
        } while (System.nanoTime() - t0 < limit);
        return images / ((System.nanoTime() - t0) / 1e9);
    }
}
