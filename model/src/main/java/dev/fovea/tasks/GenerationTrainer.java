package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.ImageTokens;
import dev.fovea.models.ImageGenerator;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Image generation: the generator trained by teacher forcing on the images' tokens (next-token cross-entropy), and
 * judged two ways — the test images' negative log-likelihood in bits per dimension, and whether a separately trained
 * classifier recognises each sample as the class that was asked for.
 */
public final class GenerationTrainer {
    private final Backend be;
    private final ImageGenerator net;
    private final Optimizer opt;
    private final TrainConfig cfg;
    private final int[][] tokens;
    private final int[] labels;
    private final LrSchedule schedule;
    private long step;

    public GenerationTrainer(Backend be, ImageGenerator net, Optimizer opt, TrainConfig cfg, ImageDataset train, long stepsDone) {
        this.be = be;
        this.net = net;
        this.opt = opt;
        this.cfg = cfg;
        this.tokens = encode(net.config().tokens(), train);
        this.labels = labels(train);
        this.schedule = cfg.newSchedule((train.count() + cfg.batch() - 1) / cfg.batch());
        this.step = stepsDone;
    }

    public long steps() { return step; }

    static int[][] encode(ImageTokens tk, ImageDataset d) {
        int[][] out = new int[d.count()][];
        for (int i = 0; i < out.length; i++) out[i] = tk.encode(d, i);
        return out;
    }

    static int[] labels(ImageDataset d) {
        int[] out = new int[d.count()];
        for (int i = 0; i < out.length; i++) out[i] = d.label(i);
        return out;
    }

    /** One epoch; its running loss (nats per token) and next-token accuracy (test fields NaN). */
    public EpochMetrics trainEpoch(int epoch, Trainer.Listener l) {
        net.train(true);
        long t0 = System.nanoTime();
        int[] order = Batches.permutation(tokens.length, Trainer.epochSeed(cfg.seed(), epoch));
        int batches = (order.length + cfg.batch() - 1) / cfg.batch();
        double lossSum = 0;
        long seen = 0;
        float lr = 0;
        for (int bi = 0; bi < batches; bi++) {
            int[] idx = Arrays.copyOfRange(order, bi * cfg.batch(), Math.min(order.length, (bi + 1) * cfg.batch()));
            int[][] tk = new int[idx.length][];
            int[] lb = new int[idx.length];
            for (int i = 0; i < idx.length; i++) { tk[i] = tokens[idx[i]]; lb[i] = labels[idx[i]]; }
            lr = schedule.lr(step);
            try (Tape t = Tape.training(be)) {
                float lv = Trainer.descend(net.loss(t, tk, lb), net, opt, lr, epoch, ++step);
                lossSum += (double) lv * idx.length;
            }
            seen += idx.length;
            l.onStep(epoch, bi + 1, batches, seen, (System.nanoTime() - t0) / 1e9, lossSum / seen);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new EpochMetrics(epoch, lossSum / seen, Double.NaN, Double.NaN, Double.NaN, seen / secs, secs, lr);
    }

    /** The test images' negative log-likelihood: mean nats per token and bits per dimension. */
    public record Likelihood(double natsPerToken, double bitsPerDim) {}

    public static Likelihood likelihood(Backend be, ImageGenerator net, ImageDataset test, int batch) {
        int[][] tk = encode(net.config().tokens(), test);
        int[] lb = labels(test);
        net.train(false);
        double sum = 0;
        try {
            for (int s = 0; s < tk.length; s += batch) {
                int e = Math.min(tk.length, s + batch);
                try (Tape t = Tape.inference(be)) {
                    sum += (double) net.loss(t, Arrays.copyOfRange(tk, s, e), Arrays.copyOfRange(lb, s, e)).value().toArray()[0] * (e - s);
                }
            }
        } finally {
            net.train(true);
        }
        double nats = sum / tk.length;
        return new Likelihood(nats, net.bitsPerDim(nats));
    }

    /**
     * {@code perClass} samples of every class, drawn from a generator seeded with {@code seed}, as a data set of
     * side × side images labelled with the class asked for (the form a classifier reads).
     */
    public static ImageDataset samples(Backend be, ImageGenerator net, int perClass, float temperature, long seed, int batch) {
        ImageTokens tk = net.config().tokens();
        int classes = net.config().classes(), n = perClass * classes, px = tk.side() * tk.side();
        byte[] pixels = new byte[n * px], labels = new byte[n];
        for (int i = 0; i < n; i++) labels[i] = (byte) (i / perClass);
        SplittableRandom rng = new SplittableRandom(seed);
        net.train(false);
        try {
            for (int s = 0; s < n; s += batch) {
                int e = Math.min(n, s + batch);
                int[] cls = new int[e - s];
                for (int i = s; i < e; i++) cls[i - s] = labels[i];
                int[][] out = net.sample(be, cls, temperature, rng, true);
                for (int i = s; i < e; i++) System.arraycopy(tk.pixels(out[i - s]), 0, pixels, i * px, px);
            }
        } finally {
            net.train(true);
        }
        return new ImageDataset("generated samples", n, tk.side(), tk.side(), pixels, labels, classes);
    }
}
