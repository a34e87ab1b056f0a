package dev.fovea.train;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.nn.Module;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;

/**
 * The training loop for image classifiers: seeded shuffled batches, forward, cross-entropy, backward, optimizer step,
 * one tape per step so every temporary is freed before the next. Epoch e's order is drawn from (seed, e), so a run
 * resumed at epoch e sees exactly the batches an uninterrupted run sees.
 */
public final class Trainer {
    /** Called after every step with the epoch's running numbers. */
    @FunctionalInterface
    public interface Listener {
        void onStep(int epoch, int batchIndex, int batches, long imagesDone, double seconds, double loss);
    }

    private final Backend be;
    private final Module model;
    private final Optimizer opt;
    private final TrainConfig cfg;
    private final ImageDataset train;
    private final LrSchedule schedule;
    private long step;
    private Tape.Profile profile;

    public Trainer(Backend be, Module model, Optimizer opt, TrainConfig cfg, ImageDataset train, long stepsDone) {
        this.be = be;
        this.model = model;
        this.opt = opt;
        this.cfg = cfg;
        this.train = train;
        this.schedule = cfg.newSchedule(stepsPerEpoch());
        this.step = stepsDone;
    }

    /** Records per-op timings of every following step into p (null stops). */
    public void profile(Tape.Profile p) { this.profile = p; }

    public long stepsPerEpoch() { return (train.count() + cfg.batch() - 1) / cfg.batch(); }
    public long steps() { return step; }

    /** The data order of epoch e (from 1). */
    public static long epochSeed(long seed, int epoch) { return seed * 0x9E3779B97F4A7C15L + epoch; }

    /** Trains one epoch (numbered from 1); returns its running loss and accuracy and throughput (test fields NaN). */
    public EpochMetrics trainEpoch(int epoch, Listener l) {
        model.train(true);
        long t0 = System.nanoTime();
        double lossSum = 0;
        long correct = 0, seen = 0;
        float lr = 0;
        try (Batches batches = new Batches(train, cfg.batch(), epochSeed(cfg.seed(), epoch), cfg.augment())) {
            int count = batches.count(), i = 0;
            while (batches.hasNext()) {
                Batches.Batch b = batches.next();
                lr = schedule.lr(step);
                StepResult r = step(b, lr, epoch);
                lossSum += (double) r.loss() * b.size();
                correct += r.correct();
                seen += b.size();
                i++;
                l.onStep(epoch, i, count, seen, (System.nanoTime() - t0) / 1e9, lossSum / seen);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new EpochMetrics(epoch, lossSum / seen, (double) correct / seen, Double.NaN, Double.NaN, seen / secs, secs, lr);
    }

    /** The loss of a step's batch (before the update) and how many of its images the model got right. */
    public record StepResult(float loss, int correct) {}

    /** One optimisation step on a batch: forward, loss, backward, update with learning rate lr. */
    public StepResult step(Batches.Batch b, float lr, int epoch) {
        try (Tape t = Tape.training(be).profile(profile)) {
            Var x = t.constant(be.upload(b.images(), b.size(), 1, train.height(), train.width()));
            Var y = t.constant(be.upload(b.labels(), b.size()));
            Var logits = model.forward(t, x);
            Var loss = t.crossEntropy(logits, y, cfg.labelSmoothing());
            float lv = descend(loss, model, opt, lr, epoch, ++step);
            return new StepResult(lv, (int) countCorrect(logits.value().toArray(), b.labels()));
        }
    }

    /** Loss, accuracy and confusion matrix in evaluation mode, without recording gradients. */
    public static Evaluation evaluate(Backend be, Module model, ImageDataset data, int batch) {
        model.train(false);
        double lossSum = 0;
        long correct = 0;
        long[][] confusion = new long[data.classes()][data.classes()];
        try (Batches batches = new Batches(data, batch, null)) {
            while (batches.hasNext()) {
                Batches.Batch b = batches.next();
                try (Tape t = Tape.inference(be)) {
                    Var x = t.constant(be.upload(b.images(), b.size(), 1, data.height(), data.width()));
                    Var y = t.constant(be.upload(b.labels(), b.size()));
                    Var logits = model.forward(t, x);
                    lossSum += (double) t.crossEntropy(logits, y, 0f).value().toArray()[0] * b.size();
                    float[] lg = logits.value().toArray();
                    int c = logits.dim(1);
                    for (int i = 0; i < b.size(); i++) {
                        int p = argmax(lg, i * c, c), truth = (int) b.labels()[i];
                        if (p == truth) correct++;
                        if (truth < confusion.length && p < confusion.length) confusion[truth][p]++;
                    }
                }
            }
        } finally {
            model.train(true);
        }
        return new Evaluation(lossSum / data.count(), (double) correct / data.count(), confusion);
    }

    /**
     * The update every trainer makes: the loss's value, checked finite (else the error names epoch and step, the
     * step about to be made, counted from 1), then backward and one optimizer step at learning rate lr.
     */
    public static float descend(Var loss, Module model, Optimizer opt, float lr, int epoch, long step) {
        float lv = loss.value().toArray()[0];
        if (!Float.isFinite(lv)) throw new NonFiniteLossException(epoch, step, lv);
        model.zeroGrad();
        loss.backward();
        opt.step(lr);
        return lv;
    }

    static long countCorrect(float[] logits, float[] labels) {
        int c = logits.length / labels.length;
        long n = 0;
        for (int i = 0; i < labels.length; i++) if (argmax(logits, i * c, c) == (int) labels[i]) n++;
        return n;
    }

    public static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (v[off + j] > v[off + best]) best = j;
        return best;
    }
}
