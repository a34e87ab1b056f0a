package dev.fovea.train;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Module;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;
import dev.fovea.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The training loop, the one every task runs: epochs of seeded shuffled batches, each prepared on a loader thread
 * while the previous one computes; per step one tape, the task's loss, a finite-loss check, backward and the
 * optimizer step at the schedule's learning rate; after each epoch the task's test pass, then
 * DIR/checkpoint.safetensors, metrics.csv and metrics.png. Epoch e's order and random draws come from (seed, e), and a
 * checkpoint holds the optimizer state and step count, so a run resumed after epoch e continues exactly as an
 * uninterrupted one.
 *
 * @param <B> the task's prepared batch
 */
public final class Trainer<B> {
    /** What a run reports as it goes; both called on the training thread. */
    public interface Listener {
        /** Reports nothing. */
        Listener SILENT = new Listener() {};

        /** After every step, with the epoch's running mean loss. */
        default void onStep(int epoch, int batch, int batches, long examples, double seconds, double loss) {}

        /** After every epoch's test pass and checkpoint. */
        default void onEpoch(EpochMetrics m, TrainingTask.TestReport report) {}

        /** Something went wrong that does not stop training (metrics.csv or the chart could not be written). */
        default void onWarning(String message) {}
    }

    /**
     * {@link #fit}'s folder already holds another run (a checkpoint or metrics this trainer did not resume from);
     * it is not replaced unless {@link #overwrite} allows it.
     */
    public static final class RunExistsException extends IllegalArgumentException {
        public final Path dir, existing;

        RunExistsException(Path dir, Path existing) {
            super(dir + " already holds a run (" + existing + ")");
            this.dir = dir;
            this.existing = existing;
        }
    }

    /**
     * What a session of {@link #fit} did: its last epoch, that epoch's metrics and report, the checkpoint, the
     * examples per second over the session's training time, and whether it stopped before the run's last epoch.
     */
    public record Result(int lastEpoch, EpochMetrics metrics, TrainingTask.TestReport report, Path checkpoint,
                         double examplesPerSecond, boolean stoppedEarly) {}

    /** Draws of an epoch's own random stream are kept apart from its order's. */
    private static final long RANDOM_STREAM = 0x5DEECE66DL;

    private final Backend be;
    private final Module model;
    private final Optimizer opt;
    private final TrainConfig cfg;
    private final TrainingTask<B> task;
    private final LrSchedule schedule;
    private final List<EpochMetrics> history = new ArrayList<>();
    private int epochsDone;
    private long step;
    private int epoch;
    private String lastGood;
    private Path resumedFrom;
    private boolean overwrite;
    private Tape.Profile profile;
    private Collective collective = Collective.single();
    private long commNanos, commBytes, commCalls;

    public Trainer(Backend be, Module model, Optimizer opt, TrainConfig cfg, TrainingTask<B> task) {
        if (task.trainCount() < 1) throw new IllegalArgumentException(task.name() + ": no training examples");
        this.be = be;
        this.model = model;
        this.opt = opt;
        this.cfg = cfg;
        this.task = task;
        this.schedule = cfg.newSchedule(stepsPerEpoch());
    }

    /**
     * Continues the run saved in {@code checkpoint}: its parameters and optimizer state, steps and history. The model
     * must be the one it records (the caller rebuilt it from the metadata).
     */
    public Trainer<B> resume(Path checkpoint) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(checkpoint)) {
            Checkpoint.Info info = Checkpoint.info(f);
            if (info.epochsDone() >= cfg.epochs())
                throw new IllegalArgumentException(checkpoint + " has already done " + info.epochsDone() + " of " + cfg.epochs()
                        + " epochs; pass a larger --epochs to continue");
            Checkpoint.load(f, model, opt, be);
            history.clear();
            history.addAll(info.history());
            epochsDone = info.epochsDone();
            step = info.steps();
            lastGood = checkpoint + " (epoch " + epochsDone + ")";
            resumedFrom = checkpoint;
        }
        return this;
    }

    /** Lets {@link #fit} replace a run already in its folder (by default it refuses: {@link RunExistsException}). */
    public Trainer<B> overwrite(boolean on) {
        this.overwrite = on;
        return this;
    }

    /**
     * Trains as one of several processes (data parallelism): each takes its share of every batch, their gradients
     * are summed weighted by the shares' sizes (in buckets started during backward: {@link #bucketBytes}), so that the
     * same seed and batch give the same run whatever the number of processes; the ranks share the test pass, and rank 0
     * alone writes. {@link #fit} first checks that every rank runs the same configuration and sends rank 0's
     * parameters to all.
     */
    public Trainer<B> collective(Collective c) {
        this.collective = c;
        return this;
    }

    /** Records per-op timings of every following step into p (null stops). */
    public Trainer<B> profile(Tape.Profile p) {
        this.profile = p;
        return this;
    }

    public long stepsPerEpoch() { return (task.trainCount() + cfg.batch() - 1) / cfg.batch(); }
    public long steps() { return step; }
    public int epochsDone() { return epochsDone; }
    public List<EpochMetrics> history() { return List.copyOf(history); }

    /** The data order and random stream of epoch e (from 1). */
    public static long epochSeed(long seed, int epoch) { return seed * 0x9E3779B97F4A7C15L + epoch; }

    /**
     * Trains the run's remaining epochs into {@code dir} (or {@code stopAfter} of them when positive, as an
     * interruption would). Throws {@link NonFiniteLossException} (naming the last good checkpoint) when the loss
     * stops being finite; that step's update is not made.
     */
    public Result fit(Path dir, int stopAfter, Listener listener) throws IOException {
        Path ckpt = dir.resolve("checkpoint.safetensors");
        int first = epochsDone + 1, last = stopAfter > 0 ? Math.min(cfg.epochs(), epochsDone + stopAfter) : cfg.epochs();
        if (first > last) throw new IllegalStateException("the run has done its " + cfg.epochs() + " epochs already");
        boolean writer = collective.rank() == 0;
        if (writer) checkWritable(dir, ckpt);
        if (collective.size() > 1) agree();
        double seconds = 0;
        long examples = 0;
        EpochMetrics m = null;
        TrainingTask.TestReport report = null;
        for (int e = first; e <= last; e++) {
            m = trainEpoch(e, listener);
            report = task.evaluate(collective);
            if (report != null) {
                if (!Double.isFinite(report.primary()))
                    throw new IllegalArgumentException(task.name() + ": epoch " + e + "'s test metric is " + report.primary() + " (" + report.summary()
                            + "); nothing of the epoch was saved" + (lastGood != null ? "; the last good checkpoint is " + lastGood : ""));
                m = m.withTest(report.loss(), report.primary());
            }
            history.add(m);
            seconds += m.seconds();
            examples += task.trainCount();
            epochsDone = e;
            if (writer) {
                Checkpoint.save(ckpt, model, opt, cfg, e, step, history, task.metadata());
                writeMetrics(dir, history, task.chartTitle(), listener);
            }
            // no rank goes on (to read the checkpoint, say) before rank 0 has written it
            if (collective.size() > 1) collective.barrier();
            lastGood = ckpt + " (epoch " + e + ")";
            listener.onEpoch(m, report);
        }
        return new Result(last, m, report, ckpt, examples / seconds, last < cfg.epochs());
    }

    /**
     * Trains epoch e (from 1) alone: no test pass, no checkpoint. Returns its running loss and accuracy and its
     * throughput (test fields NaN).
     */
    public EpochMetrics trainEpoch(int e, Listener listener) {
        ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fovea-loader");
            t.setDaemon(true);
            return t;
        });
        try {
            return trainEpoch(e, loader, listener);
        } finally {
            loader.shutdownNow();
        }
    }

    private EpochMetrics trainEpoch(int e, ExecutorService loader, Listener listener) {
        epoch = e;
        model.train(true);
        long t0 = System.nanoTime(), seed = epochSeed(cfg.seed(), e);
        int[] order = Batches.permutation(task.trainCount(), seed);
        SplittableRandom rng = new SplittableRandom(seed ^ RANDOM_STREAM);
        int batches = (order.length + cfg.batch() - 1) / cfg.batch();
        double lossSum = 0;
        long[] accuracy = new long[2];
        long seen = 0;
        float lr = 0;
        Future<B> next = loader.submit(() -> task.prepare(slice(order, 0), rng));
        for (int i = 0; i < batches; i++) {
            B batch = join(next);
            int size = Math.min(cfg.batch(), order.length - i * cfg.batch());
            if (i + 1 < batches) {
                int from = i + 1;
                next = loader.submit(() -> task.prepare(slice(order, from), rng));
            }
            lr = schedule.lr(step);
            lossSum += (double) step(batch, size, lr, accuracy) * size;
            seen += size;
            listener.onStep(e, i + 1, batches, seen, (System.nanoTime() - t0) / 1e9, lossSum / seen);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new EpochMetrics(e, lossSum / seen, accuracy[1] > 0 ? (double) accuracy[0] / accuracy[1] : Double.NaN,
                Double.NaN, Double.NaN, seen / secs, secs, lr);
    }

    private int[] slice(int[] order, int batchIndex) {
        return Arrays.copyOfRange(order, batchIndex * cfg.batch(), Math.min(order.length, (batchIndex + 1) * cfg.batch()));
    }

    private static <T> T join(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the next batch", ex);
        } catch (ExecutionException ex) {
            if (ex.getCause() instanceof RuntimeException r) throw r;
            if (ex.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(ex.getCause());
        }
    }

    /**
     * One update on a prepared batch at learning rate lr: the loss's value, checked finite (else the error names the
     * epoch, the step about to be made, counted from 1, and the last good checkpoint), then backward and the
     * optimizer's step. Returns the loss before the update.
     */
    public float step(B batch, float lr, long[] accuracy) {
        try (Tape t = Tape.training(be).profile(profile)) {
            Var loss = task.loss(t, batch, accuracy);
            float lv = loss.value().toArray()[0];
            if (!Float.isFinite(lv)) throw new NonFiniteLossException(epoch, step + 1, lv, lastGood);
            model.zeroGrad();
            loss.backward();
            opt.step(lr);
            step++;
            return lv;
        }
    }

    /**
     * One update on a prepared batch of {@code size} examples: {@link #step(Object, float, long[])} in one process, this
     * rank's share of it with the others' ({@link #collective}) in several. Returns the batch's loss.
     */
    public float step(B batch, int size, float lr, long[] accuracy) {
        return collective.size() > 1 ? stepShare(batch, size, lr, accuracy) : step(batch, lr, accuracy);
    }

    /** What the ranks' sums have cost so far: seconds the training thread waited for them, bytes summed, all-reduce calls. */
    public record Communication(double seconds, long bytes, long calls) {}

    public Communication communication() { return new Communication(commNanos / 1e9, commBytes, commCalls); }

    /**
     * One update as one of several processes: this rank's share of the batch (examples [size·r/N, size·(r+1)/N)), its
     * loss and gradients weighted by its part of what the loss is a mean over ({@link TrainingTask#weight}), summed
     * over the ranks in buckets started while backward goes on ({@link GradientSums}), then the weighted loss and the
     * accuracy counts; every rank then makes the same update. Returns the batch's loss, the same on every rank (so a
     * non-finite one stops them all at the same step).
     */
    private float stepShare(B batch, int size, float lr, long[] accuracy) {
        int from = collective.shareFrom(size), to = collective.shareTo(size);
        B share = task.slice(batch, from, to);
        GradientSums sums = new GradientSums((float) (task.weight(share) / task.weight(batch)));
        float[] local = new float[3];                        // the weighted loss, right, counted
        try (Tape t = Tape.training(be).profile(profile)) {
            model.zeroGrad();
            if (to > from) {
                if (bucketBytes > 0) t.onGradientReady(sums::ready);
                long[] acc = new long[2];
                Var loss = task.loss(t, share, acc);
                local[0] = loss.value().toArray()[0] * sums.weight;
                local[1] = acc[0];
                local[2] = acc[1];
                loss.backward();
            }
            sums.finish();
            float[] global;
            try (Tensor stats = be.upload(local, 3)) {
                long c0 = System.nanoTime();
                collective.allReduceSum(List.of(stats));      // after the buckets: MPI runs the calls in order
                sums.await();
                commNanos += System.nanoTime() - c0;
                commBytes += 4 * 3;
                commCalls++;
                global = stats.toArray();
            }
            if (!Float.isFinite(global[0])) throw new NonFiniteLossException(epoch, step + 1, global[0], lastGood);
            accuracy[0] += Math.round(global[1]);
            accuracy[1] += Math.round(global[2]);
            opt.step(lr);
            step++;
            return global[0];
        }
    }

    /** By default, gradients are summed in buckets of about this many bytes (PyTorch DDP's first bucket is 1 MiB). */
    public static final long DEFAULT_BUCKET_BYTES = 256 << 10;
    private long bucketBytes = DEFAULT_BUCKET_BYTES;
    private List<List<Var>> buckets;
    private java.util.Map<Var, Integer> bucketOf;

    /**
     * Under several processes, sums the gradients in buckets of about {@code bytes} (whole parameters, in reverse
     * order of the model's, roughly the order backward completes them), each started as soon as backward has completed
     * its gradients; 0 sums them all at once after backward. Every rank must use the same value ({@link #fit} checks).
     */
    public Trainer<B> bucketBytes(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("bucket size must be >= 0 bytes, got " + bytes);
        this.bucketBytes = bytes;
        this.buckets = null;
        return this;
    }

    /** The buckets: the optimizer's parameters in reverse order, cut where a bucket reaches bucketBytes. */
    private List<List<Var>> buckets() {
        if (buckets != null) return buckets;
        List<Var> params = new ArrayList<>(opt.parameters().values());
        java.util.Collections.reverse(params);
        buckets = new ArrayList<>();
        bucketOf = new java.util.IdentityHashMap<>();
        List<Var> open = new ArrayList<>();
        long bytes = 0;
        for (Var p : params) {
            open.add(p);
            bucketOf.put(p, buckets.size());
            bytes += 4L * p.value().numel();
            if (bucketBytes > 0 && bytes >= bucketBytes) {
                buckets.add(open);
                open = new ArrayList<>();
                bytes = 0;
            }
        }
        if (!open.isEmpty()) buckets.add(open);
        return buckets;
    }

    /**
     * One step's gradient sums: each parameter's gradient, once backward has completed it, weighted by the rank's
     * share; each bucket started when all its gradients are, in bucket order (the same on every rank, whatever order
     * backward completed them in); the rest started by {@link #finish}.
     */
    private final class GradientSums {
        final float weight;
        final List<List<Var>> all = buckets();
        final int[] missing = new int[all.size()];
        final java.util.Set<Var> done = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        final List<Collective.Pending> pending = new ArrayList<>();
        int next;

        GradientSums(float weight) {
            this.weight = weight;
            for (int b = 0; b < all.size(); b++) missing[b] = all.get(b).size();
        }

        /** p's gradient is complete (the tape's hook, or {@link #finish}). */
        void ready(Var p) {
            Integer b = bucketOf.get(p);
            if (b == null || !done.add(p)) return;          // not trained by the optimizer, or already counted
            Tensor g = p.gradOrZeros();
            be.scale(g, weight, g);
            if (--missing[b] == 0)
                while (next < all.size() && missing[next] == 0) {
                    List<Tensor> grads = new ArrayList<>();
                    for (Var q : all.get(next)) {
                        grads.add(q.grad());
                        commBytes += 4L * q.value().numel();
                    }
                    long c0 = System.nanoTime();
                    pending.add(collective.startAllReduceSum(grads));
                    commNanos += System.nanoTime() - c0;
                    commCalls++;
                    next++;
                }
        }

        /** After backward: the gradients it did not reach (zeros) and every bucket not yet started. */
        void finish() {
            for (List<Var> bucket : all) for (Var p : bucket) ready(p);
        }

        void await() { pending.forEach(Collective.Pending::await); }
    }

    /**
     * Before the first step of several processes: every rank runs what rank 0 runs (the task, its data's size, the
     * run's settings, the parameters' names and shapes, where the run stands), else every rank stops with an error
     * naming the ranks that differ; then rank 0's parameters go to all.
     */
    private void agree() {
        StringBuilder sb = new StringBuilder(task.name()).append(" examples=").append(task.trainCount()).append(" epochs_done=").append(epochsDone)
                .append(" steps=").append(step).append(" bucket_bytes=").append(bucketBytes);
        new java.util.TreeMap<>(cfg.toMetadata()).forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
        model.namedParameters().forEach((k, v) -> sb.append(' ').append(k).append(java.util.Arrays.toString(v.shape())));
        byte[] mine = sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] root = collective.broadcast(mine, 0);
        float[] flags = new float[collective.size()];
        flags[collective.rank()] = java.util.Arrays.equals(root, mine) ? 0 : 1;
        try (Tensor f = be.upload(flags, flags.length)) {
            collective.allReduceSum(List.of(f));
            flags = f.toArray();
        }
        List<Integer> differ = new ArrayList<>();
        for (int i = 0; i < flags.length; i++) if (flags[i] != 0) differ.add(i);
        if (!differ.isEmpty())
            throw new IllegalArgumentException("rank" + (differ.size() > 1 ? "s " : " ") + differ.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(", "))
                    + " of " + collective.size() + " run another configuration than rank 0's (the same command, data and checkpoint on every rank); rank 0: "
                    + new String(root, java.nio.charset.StandardCharsets.UTF_8)
                    + (flags[collective.rank()] != 0 ? "; this rank (" + collective.rank() + "): " + sb : ""));
        List<Tensor> params = new ArrayList<>();
        for (Var v : model.namedParameters().values()) params.add(v.value());
        collective.broadcast(params, 0);
    }

    /**
     * Before the first step: the folder can be written (a probe file), and it holds no other run unless
     * {@link #overwrite} allows replacing it.
     */
    private void checkWritable(Path dir, Path ckpt) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw new IOException(dir + ": a file, not a folder; a run's outputs go into a folder");
        Files.createDirectories(dir);
        boolean continuing = resumedFrom != null && Files.exists(ckpt) && Files.isSameFile(resumedFrom, ckpt);
        for (Path p : List.of(ckpt, dir.resolve("metrics.csv")))
            if (Files.exists(p) && !overwrite && !continuing) throw new RunExistsException(dir, p);
        Path probe = dir.resolve(".fovea-write-probe");
        Files.deleteIfExists(probe);
        Files.writeString(probe, "fovea checks that it can write here before training\n");
        Files.delete(probe);
    }

    /**
     * metrics.csv and the chart, each written to a temporary file and renamed; a failure is a warning (the checkpoint,
     * already written, is what a run needs), the temporary file removed.
     */
    static void writeMetrics(Path dir, List<EpochMetrics> history, String title, Listener listener) {
        StringBuilder csv = new StringBuilder(EpochMetrics.CSV_HEADER).append('\n');
        for (EpochMetrics m : history) csv.append(m.csv()).append('\n');
        Path tmp = dir.resolve("metrics.csv.tmp"), png = dir.resolve("metrics.png");
        try {
            Files.writeString(tmp, csv);
            Files.move(tmp, dir.resolve("metrics.csv"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            listener.onWarning("could not write " + dir.resolve("metrics.csv") + " (" + e + "); training goes on");
            try { Files.deleteIfExists(tmp); } catch (IOException ignored) { /* the warning above says enough */ }
        }
        try {
            Chart.write(png, history, title);
        } catch (IOException | RuntimeException e) {
            listener.onWarning("could not draw " + png + " (" + e + "); training goes on");
            try { Files.deleteIfExists(png.resolveSibling(png.getFileName() + ".tmp")); } catch (IOException ignored) { /* as above */ }
        }
    }

    /** Index of the largest of v[off .. off+n) (the first on ties). */
    public static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (v[off + j] > v[off + best]) best = j;
        return best;
    }
}
