package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.ClassNames;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.ImageTokens;
import dev.fovea.models.ImageGenerator;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Layer;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.Collective;
import dev.fovea.train.Evaluation;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import dev.fovea.train.TrainingTask;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Image generation: the generator trained by teacher forcing on the images' tokens (next-token cross-entropy), and
 * judged two ways — the test images' negative log-likelihood in bits per dimension, and whether a separately trained
 * classifier recognises each sample as the class that was asked for.
 */
public final class GenerationTask implements TrainingTask<GenerationTask.Batch> {
    /** The model name generator checkpoints record. */
    public static final String MODEL = "generator";
    /** Test images scored and samples judged at a time. */
    static final int EVAL_BATCH = 500, SAMPLE_BATCH = 250;

    /** Token sequences and the class of each. */
    public record Batch(int[][] tokens, int[] labels) {}

    private final Backend be;
    private final ImageGenerator net;
    private final TrainConfig cfg;
    private final int[][] tokens;
    private final int[] labels;
    private final ImageDataset test;
    private final Layer judge;
    private final Path judgePath;
    private final List<String> names;
    private final int samplesPerClass;

    /** {@code judge}: the classifier (at {@code judgePath}) that reads {@code samplesPerClass} samples of every class after each epoch. */
    public GenerationTask(Backend be, ImageGenerator net, TrainConfig cfg, ImageDataset train, ImageDataset test, Layer judge, Path judgePath,
                          int samplesPerClass) {
        if (samplesPerClass < 1) throw new IllegalArgumentException("at least one sample of each class is judged, got " + samplesPerClass);
        if (test.count() == 0) throw new IllegalArgumentException(test.source() + ": the test split holds no images");
        this.be = be;
        this.net = net;
        this.cfg = cfg;
        this.tokens = encode(net.config().tokens(), train);
        this.labels = labels(train);
        this.test = test;
        this.judge = judge;
        this.judgePath = judgePath;
        this.names = train.labelNames(net.config().classes());
        this.samplesPerClass = samplesPerClass;
    }

    @Override public int trainCount() { return tokens.length; }

    @Override public Batch prepare(int[] idx, SplittableRandom rng) {
        int[][] tk = new int[idx.length][];
        int[] lb = new int[idx.length];
        for (int i = 0; i < idx.length; i++) { tk[i] = tokens[idx[i]]; lb[i] = labels[idx[i]]; }
        return new Batch(tk, lb);
    }

    @Override public Batch slice(Batch b, int from, int to) {
        return new Batch(Arrays.copyOfRange(b.tokens(), from, to), Arrays.copyOfRange(b.labels(), from, to));
    }

    /** Every image is as many tokens: the loss is a mean over images. */
    @Override public double weight(Batch b) { return b.tokens().length; }

    /** Nats per token. */
    @Override public Var loss(Tape t, Batch b, long[] accuracy) { return net.loss(t, b.tokens(), b.labels()); }

    /** The test images' bits per dimension (in the test-loss column) and the judge's accuracy on samples (the test-accuracy column). */
    @Override public TestReport evaluate(Collective ranks) {
        Judged j = judge(be, net, judge, test, samplesPerClass, 1f, cfg.seed(), ranks);
        if (j == null) return null;
        return new TestReport(j.bitsPerDim(), j.accuracy().accuracy(),
                String.format(Locale.ROOT, "test bits/dim %.4f | class accuracy of %d samples %.4f", j.bitsPerDim(), j.samples(), j.accuracy().accuracy()),
                String.format(Locale.ROOT, "bits_per_dim=%.4f class_accuracy=%.4f", j.bitsPerDim(), j.accuracy().accuracy()));
    }

    @Override public Map<String, String> metadata() { return metadata(net.config(), judgePath, names); }
    @Override public String name() { return "task=generate"; }
    @Override public String accuracyName() { return null; }
    @Override public String chartTitle() { return "generate: loss, test bits/dim (test loss) and class accuracy"; }

    /** What a generator's checkpoint records beside the weights: the tokens, the model's shape, its judge and the classes' names. */
    public static Map<String, String> metadata(ImageGenerator.Config c, Path classifier, List<String> names) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", "generate");
        m.putAll(c.toMetadata());
        m.put("classifier", classifier.toString());
        m.putAll(ClassNames.toMetadata(names));
        return m;
    }

    /**
     * A generator's checkpoint: the model (its weights loaded), the judge it names (or null), its run and its classes'
     * names (numbered for a checkpoint written before checkpoints recorded them).
     */
    public record Loaded(ImageGenerator net, Path classifier, Checkpoint.Info info, List<String> labels) implements AutoCloseable {
        @Override public void close() { net.close(); }
    }

    public static Loaded load(Backend be, Path file) throws IOException {
        if (!Files.exists(file)) throw new IllegalArgumentException(file + ": no such checkpoint (train a generator with `fovea train --task generate`)");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            Map<String, String> m = f.metadata();
            if (!"generate".equals(m.get("task"))) throw new IllegalArgumentException(file + ": not a generator's checkpoint (its task is " + m.get("task") + ")");
            ImageGenerator.Config c = ImageGenerator.Config.fromMetadata(file.toString(), m);
            ImageGenerator net = Checkpoint.loadModel(f, new ImageGenerator(be, c, info.config().seed()), be);
            List<String> names = ClassNames.fromMetadata(file.toString(), m, c.classes());
            return new Loaded(net, m.get("classifier") == null ? null : Path.of(m.get("classifier")), info, names != null ? names : ClassNames.numbered(c.classes()));
        }
    }

    /** Bits per dimension on the test images and how the classifier sees samples of every class. */
    public record Judged(double bitsPerDim, Evaluation accuracy, int samples) {}

    public static Judged judge(Backend be, ImageGenerator net, Layer classifier, ImageDataset test, int perClass, float temperature, long seed) {
        return judge(be, net, classifier, test, perClass, temperature, seed, Collective.single());
    }

    /**
     * {@link #judge} by several ranks at once: each scores its share of the test images and draws and classifies its
     * share of the samples' batches (each batch drawn from its own seed, so the samples are those of one process); the
     * sums are added over the ranks. Rank 0 gets the result, the others null.
     */
    public static Judged judge(Backend be, ImageGenerator net, Layer classifier, ImageDataset test, int perClass, float temperature, long seed,
                               Collective ranks) {
        int[][] tk = encode(net.config().tokens(), test);
        int[] lb = labels(test);
        double nats = natsSum(be, net, tk, lb, ranks.shareFrom(tk.length), ranks.shareTo(tk.length), EVAL_BATCH);
        int classes = net.config().classes(), n = perClass * classes, batches = (n + SAMPLE_BATCH - 1) / SAMPLE_BATCH;
        ImageDataset samples = samples(be, net, perClass, temperature, seed, SAMPLE_BATCH, ranks.shareFrom(batches), ranks.shareTo(batches));
        ClassificationTask.Sums mine = ClassificationTask.sums(be, classifier, samples, EVAL_BATCH, 0, samples.count());
        float[] sums = new float[3 + classes * classes];             // nats, the samples' loss sum, right; the confusion counts
        sums[0] = (float) nats;
        sums[1] = (float) mine.lossSum();
        sums[2] = mine.correct();
        for (int i = 0; i < classes; i++)
            for (int j = 0; j < classes; j++) sums[3 + i * classes + j] = mine.confusion()[i][j];
        float[] all = ranks.sum(be, sums);
        if (ranks.rank() != 0) return null;
        long[][] confusion = new long[classes][classes];
        for (int i = 0; i < classes; i++)
            for (int j = 0; j < classes; j++) confusion[i][j] = Math.round(all[3 + i * classes + j]);
        double bpd = net.bitsPerDim(all[0] / tk.length);
        return new Judged(bpd, new Evaluation(all[1] / n, Math.round(all[2]) / (double) n, confusion), n);
    }

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

    /** The test images' negative log-likelihood: mean nats per token and bits per dimension. */
    public record Likelihood(double natsPerToken, double bitsPerDim) {}

    public static Likelihood likelihood(Backend be, ImageGenerator net, ImageDataset test, int batch) {
        int[][] tk = encode(net.config().tokens(), test);
        double nats = natsSum(be, net, tk, labels(test), 0, tk.length, batch) / tk.length;
        return new Likelihood(nats, net.bitsPerDim(nats));
    }

    /** The sum over images [from, to) of their mean nats per token. */
    static double natsSum(Backend be, ImageGenerator net, int[][] tk, int[] lb, int from, int to, int batch) {
        net.train(false);
        double sum = 0;
        try {
            for (int s = from; s < to; s += batch) {
                int e = Math.min(to, s + batch);
                try (Tape t = Tape.inference(be)) {
                    sum += (double) net.loss(t, Arrays.copyOfRange(tk, s, e), Arrays.copyOfRange(lb, s, e)).value().toArray()[0] * (e - s);
                }
            }
        } finally {
            net.train(true);
        }
        return sum;
    }

    /**
     * {@code perClass} samples of every class, drawn from a generator seeded with {@code seed}, as a data set of
     * side × side images labelled with the class asked for (the form a classifier reads).
     */
    public static ImageDataset samples(Backend be, ImageGenerator net, int perClass, float temperature, long seed, int batch) {
        int n = perClass * net.config().classes();
        return samples(be, net, perClass, temperature, seed, batch, 0, (n + batch - 1) / batch);
    }

    /**
     * Batches [first, end) of those samples, in class order: batch k holds samples [k·batch, (k+1)·batch) and is drawn
     * from its own stream (seed, k), so any split of the batches draws what one pass over them does.
     */
    static ImageDataset samples(Backend be, ImageGenerator net, int perClass, float temperature, long seed, int batch, int first, int end) {
        ImageTokens tk = net.config().tokens();
        int classes = net.config().classes(), n = perClass * classes, px = tk.side() * tk.side();
        int lo = Math.min(n, first * batch), hi = Math.min(n, end * batch);
        byte[] pixels = new byte[(hi - lo) * px], labels = new byte[hi - lo];
        for (int i = lo; i < hi; i++) labels[i - lo] = (byte) (i / perClass);
        net.train(false);
        try {
            for (int s = lo; s < hi; s += batch) {
                int e = Math.min(hi, s + batch);
                int[] cls = new int[e - s];
                for (int i = s; i < e; i++) cls[i - s] = labels[i - lo];
                SplittableRandom rng = new SplittableRandom(Trainer.epochSeed(seed, s / batch));
                int[][] out = net.sample(be, cls, temperature, rng, true);
                for (int i = s; i < e; i++) System.arraycopy(tk.pixels(out[i - s]), 0, pixels, (i - lo) * px, px);
            }
        } finally {
            net.train(true);
        }
        return new ImageDataset("generated samples", hi - lo, tk.side(), tk.side(), pixels, labels, classes);
    }
}
