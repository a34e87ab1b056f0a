package dev.fovea.train;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ClassNames;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.Preprocessing;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Image classification: cross-entropy (with the run's label smoothing) on normalised images [B, 1, H, W], with
 * {@code cfg.augment()} each shifted by up to a pixel and maybe mirrored (Batches.images); the test pass is the test split's loss and accuracy.
 */
public final class ClassificationTask implements TrainingTask<ClassificationTask.Batch> {
    /** Images [size, 1, H, W] normalised, labels [size]. */
    public record Batch(int size, float[] images, float[] labels) {}

    /** Test images evaluated at a time. */
    static final int EVAL_BATCH = 500;

    private final Backend be;
    private final Layer model;
    private final TrainConfig cfg;
    private final ImageDataset train, test;

    /**
     * {@code test} null: no test pass (benchmarks). Checks the data before any step: both splits hold images, of one
     * size, and every label is one of the model's classes (naming the data set and the record otherwise).
     */
    public ClassificationTask(Backend be, Layer model, TrainConfig cfg, ImageDataset train, ImageDataset test) {
        checkLabels(train, cfg.classes());
        if (test != null) {
            if (test.count() == 0) throw new IllegalArgumentException(test.source() + ": the test split holds no images");
            if (test.height() != train.height() || test.width() != train.width())
                throw new IllegalArgumentException(test.source() + ": test images are " + test.height() + "x" + test.width() + ", the training images ("
                        + train.source() + ") " + train.height() + "x" + train.width());
            checkLabels(test, cfg.classes());
        }
        this.be = be;
        this.model = model;
        this.cfg = cfg;
        this.train = train;
        this.test = test;
    }

    private static void checkLabels(ImageDataset d, int classes) {
        if (d.count() == 0) throw new IllegalArgumentException(d.source() + ": holds no images");
        for (int i = 0; i < d.count(); i++)
            if (d.label(i) >= classes)
                throw new IllegalArgumentException(d.source() + ": record " + i + " has label " + d.label(i) + ", but the model has " + classes
                        + " classes (0.." + (classes - 1) + ")");
    }

    @Override public int trainCount() { return train.count(); }

    @Override public Batch prepare(int[] idx, SplittableRandom rng) {
        float[] y = new float[idx.length];
        for (int i = 0; i < idx.length; i++) y[i] = train.label(idx[i]);
        return new Batch(idx.length, Batches.images(train, idx, cfg.augment() ? rng : null), y);
    }

    @Override public Batch slice(Batch b, int from, int to) {
        int n = train.height() * train.width();
        return new Batch(to - from, Arrays.copyOfRange(b.images(), from * n, to * n), Arrays.copyOfRange(b.labels(), from, to));
    }

    @Override public double weight(Batch b) { return b.size(); }

    @Override public Var loss(Tape t, Batch b, long[] accuracy) {
        Var x = t.constant(be.upload(b.images(), b.size(), 1, train.height(), train.width()));
        Var logits = model.forward(t, x);
        Var loss = t.crossEntropy(logits, t.constant(be.upload(b.labels(), b.size())), cfg.labelSmoothing());
        accuracy[0] += countCorrect(logits.value().toArray(), b.labels());
        accuracy[1] += b.size();
        return loss;
    }

    /** Each rank evaluates its share of the test images; their loss sums and right answers are summed. */
    @Override public TestReport evaluate(Collective ranks) {
        if (test == null) return null;
        int n = test.count();
        Sums s = sums(be, model, test, EVAL_BATCH, ranks.shareFrom(n), ranks.shareTo(n));
        float[] total = ranks.sum(be, (float) s.lossSum(), s.correct());
        return ranks.rank() == 0 ? report(total[0] / n, (double) total[1] / n) : null;
    }

    private static TestReport report(double loss, double accuracy) {
        return new TestReport(loss, accuracy, String.format(Locale.ROOT, "test loss %.4f acc %.4f", loss, accuracy),
                String.format(Locale.ROOT, "test_accuracy=%.4f", accuracy));
    }

    /** What a classifier's checkpoint records beside the run: its preprocessing and class names. */
    @Override public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>(train.preprocessing().toMetadata());
        m.putAll(ClassNames.toMetadata(train.labelNames(cfg.classes())));
        return m;
    }
    @Override public String name() { return "model=" + cfg.model(); }
    @Override public String chartTitle() { return cfg.model() + ": loss and accuracy"; }

    /**
     * A classifier's checkpoint: the model (its weights loaded), its run's settings, the epochs it was trained, how an
     * image becomes its input, and its class names.
     */
    public record Loaded(Layer model, TrainConfig config, int epochs, Preprocessing preprocessing, List<String> labels) implements AutoCloseable {
        @Override public void close() { model.close(); }
    }

    /**
     * Builds the model a training checkpoint of a classifier describes and loads its parameters. A checkpoint written
     * before checkpoints recorded preprocessing and class names was trained on 28×28 Fashion-MNIST-format data: it
     * gets that data's preprocessing, and its classes are numbered.
     */
    public static Loaded load(Backend be, Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            TrainConfig cfg = info.config();
            if (cfg.model().equals(Models.VIT_PRETRAIN))
                throw new IllegalArgumentException(file + ": a masked-pretraining checkpoint, not a classifier; fine-tune it first (fovea finetune --weights " + file + ")");
            Map<String, String> meta = f.metadata();
            Preprocessing pre = Preprocessing.recorded(meta) ? Preprocessing.fromMetadata(file.toString(), meta)
                    : ImageDataset.preprocessing(28, 28);
            List<String> labels = ClassNames.fromMetadata(file.toString(), meta, cfg.classes());
            Layer m = Checkpoint.loadModel(f, Models.create(be, cfg.model(), cfg.activation().isEmpty() ? null : cfg.activation(), cfg.seed(), cfg.classes()), be);
            return new Loaded(m, cfg, info.epochsDone(), pre, labels != null ? labels : ClassNames.numbered(cfg.classes()));
        }
    }

    /** Loss, accuracy and confusion matrix in evaluation mode, without recording gradients. */
    public static Evaluation evaluate(Backend be, Layer model, ImageDataset data, int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batch);
        if (data.count() == 0) throw new IllegalArgumentException(data.source() + ": holds no images to evaluate on");
        Sums s = sums(be, model, data, batch, 0, data.count());
        return new Evaluation(s.lossSum() / data.count(), (double) s.correct() / data.count(), s.confusion());
    }

    /** Over images [from, to): the sum of their losses, how many were right, the confusion counts. */
    public record Sums(double lossSum, long correct, long[][] confusion) {}

    public static Sums sums(Backend be, Layer model, ImageDataset data, int batch, int from, int to) {
        model.train(false);
        double lossSum = 0;
        long correct = 0;
        long[][] confusion = new long[data.classes()][data.classes()];
        int n = data.imageSize();
        try {
            for (int start = from; start < to; start += batch) {
                int b = Math.min(batch, to - start);
                float[] x = new float[b * n], y = new float[b];
                for (int i = 0; i < b; i++) {
                    data.normalized(start + i, x, i * n);
                    y[i] = data.label(start + i);
                }
                try (Tape t = Tape.inference(be)) {
                    Var logits = model.forward(t, t.constant(be.upload(x, b, 1, data.height(), data.width())));
                    lossSum += (double) t.crossEntropy(logits, t.constant(be.upload(y, b)), 0f).value().toArray()[0] * b;
                    float[] lg = logits.value().toArray();
                    int c = logits.dim(1);
                    for (int i = 0; i < b; i++) {
                        int p = Trainer.argmax(lg, i * c, c), truth = (int) y[i];
                        if (p == truth) correct++;
                        if (truth < confusion.length && p < confusion.length) confusion[truth][p]++;
                    }
                }
            }
        } finally {
            model.train(true);
        }
        return new Sums(lossSum, correct, confusion);
    }

    static long countCorrect(float[] logits, float[] labels) {
        int c = logits.length / labels.length;
        long n = 0;
        for (int i = 0; i < labels.length; i++) if (Trainer.argmax(logits, i * c, c) == (int) labels[i]) n++;
        return n;
    }
}
