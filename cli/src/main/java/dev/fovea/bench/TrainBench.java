package dev.fovea.bench;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.Collective;
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

    /** The models tools/bench-train-torch.py has twins of. */
    static final java.util.List<String> TORCH_MODELS = java.util.List.of("lenet5-full", "vit");

    /** Fovea's images per second (median of the windows); PyTorch's and the median of the windows' ratios, or NaN. */
    public record Result(double imagesPerSecond, double pytorch, double ratio) {}

    /**
     * With {@code profile}, the timed windows also print each op's share of a step, forward and backward. With several
     * ranks ({@code ranks}, under mpirun) every step is data-parallel and every window a number of steps rank 0 sets
     * (a time limit would let the ranks stop at different steps), the gradients summed in buckets of {@code bucketBytes}
     * ({@link Trainer#bucketBytes}); the rate is the batches' images per second. With {@code pytorch} (a python with
     * torch; one process only) PyTorch trains the same model, batch and threads in another process, its warm-up after
     * Fovea's and each of its windows after one of Fovea's, so that both see the machine alike.
     */
    public static Result run(Backend be, String model, int batch, int threads, ImageDataset data, double warmup, int repeats, double seconds,
                             boolean profile, PrintStream log, Collective ranks, long bucketBytes, String pytorch) throws java.io.IOException {
        if (data.count() < batch) throw new IllegalArgumentException("batch " + batch + " is larger than the data set (" + data.count() + " images)");
        if (pytorch != null && ranks.size() > 1) throw new IllegalArgumentException("--pytorch compares one process with PyTorch; not under mpirun");
        if (pytorch != null && !TORCH_MODELS.contains(model))
            throw new IllegalArgumentException("--pytorch: PyTorch's side has " + String.join(" and ", TORCH_MODELS) + ", not " + model);
        TrainConfig cfg = TrainConfig.builder(model).epochs(1).batch(batch).lr(0.01f).optimizer("sgd").weightDecay(0f).schedule("constant").warmup(0)
                .labelSmoothing(0f).augment(false).build();
        try (Layer net = Models.create(be, model, null, 1); Optimizer opt = cfg.newOptimizer(be, net.namedParameters());
             TorchPeer torch = pytorch == null ? null : new TorchPeer(pytorch, model, batch, threads)) {
            if (torch != null) {
                log.println("  pytorch: " + torch.banner);
                if (!torch.banner.endsWith(" parameters=" + net.parameterCount()))
                    throw new IllegalStateException("--pytorch: PyTorch's " + model + " is not Fovea's (" + torch.banner + "; Fovea's has " + net.parameterCount()
                            + " parameters)");
            }
            ClassificationTask task = new ClassificationTask(be, net, cfg, data, null);
            Trainer<ClassificationTask.Batch> trainer = new Trainer<>(be, net, opt, cfg, task).collective(ranks).bucketBytes(bucketBytes);
            Feed feed = new Feed(task, data.count(), batch);
            // warm-up: the Vector API kernels are slow until C2 has compiled them
            int stepsPerWindow = 0;
            if (ranks.size() == 1) {
                runFor(trainer, feed, warmup);
                if (torch != null) torch.warmup(warmup);
            } else {
                double per = agreedSeconds(ranks, runSteps(trainer, feed, 3) / 3);
                runSteps(trainer, feed, (int) Math.ceil(warmup / per));
                stepsPerWindow = (int) Math.max(1, Math.ceil(seconds / agreedSeconds(ranks, runSteps(trainer, feed, 3) / 3)));
            }
            double[] rates = new double[repeats], theirs = new double[repeats], ratios = new double[repeats];
            Tape.Profile prof = profile ? new Tape.Profile() : null;
            trainer.profile(prof);
            long steps0 = trainer.steps();
            Trainer.Communication c0 = trainer.communication();
            for (int r = 0; r < repeats; r++) {
                rates[r] = ranks.size() == 1 ? runFor(trainer, feed, seconds) : (double) batch * stepsPerWindow / runSteps(trainer, feed, stepsPerWindow);
                if (torch == null) log.printf(Locale.ROOT, "  repeat %d: %.0f images/s%n", r + 1, rates[r]);
                else {
                    theirs[r] = torch.window(seconds);
                    ratios[r] = rates[r] / theirs[r];
                    log.printf(Locale.ROOT, "  repeat %d: fovea %.0f, pytorch %.0f images/s (%.2fx)%n", r + 1, rates[r], theirs[r], ratios[r]);
                }
            }
            if (ranks.size() > 1) {
                Trainer.Communication c1 = trainer.communication();
                long steps = trainer.steps() - steps0;
                log.printf(Locale.ROOT, "  all-reduce per step over %d ranks: %.0f bytes in %.1f calls (buckets of %d KiB), %.2f ms waited for (%.1f %% of a step)%n",
                        ranks.size(), (double) (c1.bytes() - c0.bytes()) / steps, (double) (c1.calls() - c0.calls()) / steps, bucketBytes >> 10,
                        1e3 * (c1.seconds() - c0.seconds()) / steps, 100 * (c1.seconds() - c0.seconds()) / (steps * batch / InferBench.median(rates)));
            }
            if (prof != null) printProfile(prof, trainer.steps() - steps0, "step", log);
            return torch == null ? new Result(InferBench.median(rates), Double.NaN, Double.NaN)
                    : new Result(InferBench.median(rates), InferBench.median(theirs), InferBench.median(ratios));
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

    /**
     * Each op's time per step (or pass: {@code unit}) from a profile of {@code steps} of them, and for the products
     * (linear, convolution, attention) the rate they computed at: how far each runs from the GEMM's own rate.
     */
    static void printProfile(Tape.Profile p, long steps, String unit, PrintStream log) {
        long total = 0, productNs = 0, productFlops = 0;
        for (long[] v : p.totals().values()) {
            total += v[0];
            if (v[2] > 0) { productNs += v[0]; productFlops += v[2]; }
        }
        log.printf(Locale.ROOT, "  per %s, by op (wall time on the calling thread; profiling adds a little):%n", unit);
        for (var e : p.totals().entrySet()) {
            long[] v = e.getValue();
            log.printf(Locale.ROOT, "    %-56s %8.1f us  %5.1f %%%s%n", e.getKey(), v[0] / 1e3 / steps, 100.0 * v[0] / total,
                    v[2] > 0 ? String.format(Locale.ROOT, "  %6.1f GFLOP/s", (double) v[2] / v[0]) : "");
        }
        log.printf(Locale.ROOT, "    %-56s %8.1f us%n", "all ops", total / 1e3 / steps);
        if (productFlops > 0)
            log.printf(Locale.ROOT, "  products (linear, conv2d, attention): %.1f MFLOP a %s, %.1f %% of the ops' time, at %.1f GFLOP/s; %.1f GFLOP/s over all ops%n",
                    productFlops / 1e6 / steps, unit, 100.0 * productNs / total, (double) productFlops / productNs, (double) productFlops / total);
    }

    /** Seconds for {@code steps} whole steps. */
    private static double runSteps(Trainer<ClassificationTask.Batch> trainer, Feed feed, int steps) {
        long t0 = System.nanoTime();
        long[] accuracy = new long[2];
        for (int i = 0; i < steps; i++) {
            ClassificationTask.Batch b = feed.next();
            trainer.step(b, b.size(), 0.01f, accuracy);
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Rank 0's value on every rank. */
    private static double agreedSeconds(Collective ranks, double mine) {
        byte[] b = ranks.broadcast(java.nio.ByteBuffer.allocate(8).putDouble(mine).array(), 0);
        return java.nio.ByteBuffer.wrap(b).getDouble();
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
