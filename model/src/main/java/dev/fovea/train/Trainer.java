package dev.fovea.train;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Module;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;

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
        checkWritable(dir, ckpt);
        double seconds = 0;
        long examples = 0;
        EpochMetrics m = null;
        TrainingTask.TestReport report = null;
        for (int e = first; e <= last; e++) {
            m = trainEpoch(e, listener);
            report = task.evaluate();
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
            Checkpoint.save(ckpt, model, opt, cfg, e, step, history, task.metadata());
            lastGood = ckpt + " (epoch " + e + ")";
            writeMetrics(dir, history, task.chartTitle(), listener);
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
            lossSum += (double) step(batch, lr, accuracy) * size;
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
