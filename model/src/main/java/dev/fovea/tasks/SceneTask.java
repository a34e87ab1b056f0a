package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.SceneNet;
import dev.fovea.nn.Losses;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.Collective;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import dev.fovea.train.TrainingTask;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A scene task (localization, detection, segmentation, instance segmentation) for the training loop, and a
 * {@link SceneNet}'s evaluation and decoding. The loss is DETR's mix for boxes — cross-entropy over each cell's
 * classes (background included), plus 5 × smooth-L1 (β = 0.02, nearly L1) on the side distances and 2 × (1 − GIoU)
 * on the boxes, both summed over positive cells and divided by their count — and per-pixel cross-entropy for
 * segmentation. With {@code cfg.augment()}, each training scene is mirrored half the time and moved as a whole (its
 * objects staying on the canvas): the same objects, a new picture of them every epoch.
 */
public final class SceneTask implements TrainingTask<SceneTask.Batch> {
    static final float L1_WEIGHT = 5f, GIOU_WEIGHT = 2f, L1_BETA = 0.02f;
    /** Decoding: the least class probability reported, NMS overlap, detections per image (COCO's maxDets). */
    public static final double MIN_SCORE = 0.05, NMS_IOU = 0.5;
    public static final int MAX_DETS = 100;
    /** With augmentation, scenes move by up to a quarter of their side each way (two cells of a 64-pixel scene). */
    static final int MAX_SHIFT_FRACTION = 4;
    /** Pixels an instance mask may reach beyond its box. */
    static final int MASK_MARGIN = 2;
    /** Test images evaluated at a time. */
    static final int EVAL_BATCH = 250;

    /** Normalised images [size, C, S, S] and their grid targets. */
    public record Batch(int size, float[] images, DenseGrid.Targets targets) {}

    private final Backend be;
    private final SceneNet net;
    private final TrainConfig cfg;
    private final TaskSpec spec;
    private final SceneData train, test;

    /** Checks the data before any step: both splits hold images of the model's size and channels. */
    public SceneTask(Backend be, SceneNet net, TrainConfig cfg, TaskSpec spec, SceneData train, SceneData test) {
        for (SceneData d : List.of(train, test)) {
            if (d.count() == 0) throw new IllegalArgumentException(d.coco().annotationsFile() + ": holds no images");
            fits(d, net.config());
        }
        this.be = be;
        this.net = net;
        this.cfg = cfg;
        this.spec = spec;
        this.train = train;
        this.test = test;
    }

    @Override public int trainCount() { return train.count(); }

    @Override public Batch prepare(int[] idx, SplittableRandom rng) {
        SceneNet.Config mc = net.config();
        int b = idx.length;
        SceneData.Move[] m = null;
        if (cfg.augment() && rng != null) {
            m = new SceneData.Move[b];
            for (int i = 0; i < b; i++) m[i] = train.randomMove(idx[i], rng, mc.imgSize() / MAX_SHIFT_FRACTION);
        }
        float[] x = new float[b * mc.inChans() * mc.imgSize() * mc.imgSize()];
        train.batch(idx, m, spec.pixelMean(), spec.pixelStd(), x);
        return new Batch(b, x, DenseGrid.encode(train, idx, m, mc));
    }

    @Override public Batch slice(Batch b, int from, int to) {
        SceneNet.Config mc = net.config();
        int n = mc.inChans() * mc.imgSize() * mc.imgSize();
        return new Batch(to - from, Arrays.copyOfRange(b.images(), from * n, to * n), b.targets().share(b.size(), from, to));
    }

    /**
     * Every image has as many cells and pixels, so the class and pixel cross-entropies are means over images; the box
     * losses are normalised by the whole batch's positive cells ({@link DenseGrid.Targets#share}).
     */
    @Override public double weight(Batch b) { return b.size(); }

    /** Its loss, and as accuracy the positive cells given their object's class (detection) or the pixels given their label. */
    @Override public Var loss(Tape t, Batch b, long[] accuracy) {
        SceneNet.Config mc = net.config();
        SceneNet.Out out = net.heads(t, t.constant(be.upload(b.images(), b.size(), mc.inChans(), mc.imgSize(), mc.imgSize())));
        Var loss = loss(t, out, b.targets(), cfg.labelSmoothing());
        Task task = spec.task();
        long[] acc = task.detection ? cellAccuracy(out.cls().value().toArray(), b.targets().cls(), 1 + mc.classes())
                : cellAccuracy(out.seg().value().toArray(), b.targets().seg(), 1 + mc.classes());
        accuracy[0] += acc[0];
        accuracy[1] += acc[1];
        return loss;
    }

    @Override public TestReport evaluate(Collective ranks) {
        Report r = evaluate(be, net, spec.task(), test, spec.pixelStats(), EVAL_BATCH, ranks);
        if (r == null) return null;
        return new TestReport(r.loss(), r.primary(spec.task()), String.format(Locale.ROOT, "test loss %.4f %s", r.loss(), metrics(r.metrics())),
                String.format(Locale.ROOT, "%s=%.4f", spec.task().metric, r.primary(spec.task())));
    }

    @Override public Map<String, String> metadata() { return spec.toMetadata(); }
    @Override public String name() { return "task=" + spec.task().id(); }
    @Override public String accuracyName() { return spec.task().detection ? "cell acc" : "pixel acc"; }
    @Override public String chartTitle() { return spec.task().id() + ": loss and " + spec.task().metric + " (in the accuracy column)"; }

    /**
     * A scene task's run defaults: its epochs (each task's run on 20,000 Fashion-MNIST scenes within the hour),
     * label smoothing 0.1 on an image-level class head, and augmentation where the task needs it.
     */
    public static TrainConfig.Builder defaults(Task task) {
        return TrainConfig.builder(TaskSpec.MODEL).epochs(task.epochs).labelSmoothing(task.imageClass ? 0.1f : 0f).augment(task.augment);
    }

    /** A scene-task checkpoint: its spec, run and model (its weights loaded). */
    public record Loaded(TaskSpec spec, Checkpoint.Info info, SceneNet net) implements AutoCloseable {
        @Override public void close() { net.close(); }
    }

    public static Loaded load(Backend be, Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            TaskSpec spec = TaskSpec.fromMetadata(file.toString(), f.metadata());
            SceneNet net = Checkpoint.loadModel(f, new SceneNet(be, spec.model(), info.config().seed()), be);
            return new Loaded(spec, info, net);
        }
    }

    private static void fits(SceneData data, SceneNet.Config mc) {
        if (data.size() != mc.imgSize() || data.channels() != mc.inChans())
            throw new IllegalArgumentException(data.coco().annotationsFile() + ": images are " + data.channels() + "x" + data.size() + "x" + data.size()
                    + ", the model takes " + mc.inChans() + "x" + mc.imgSize() + "x" + mc.imgSize());
    }

    /** "name=value ..." of metrics, four decimals. */
    public static String metrics(Map<String, Double> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : " ").append(k).append('=').append(String.format(Locale.ROOT, "%.4f", v)));
        return sb.toString();
    }

    /** {right, counted}: rows whose argmax is their label, among the positive rows (detection) or all rows (pixels). */
    private long[] cellAccuracy(float[] logits, float[] labels, int k) {
        long right = 0, counted = 0;
        for (int r = 0; r < labels.length; r++) {
            if (spec.task().detection && labels[r] == 0) continue;
            counted++;
            if (Trainer.argmax(logits, r * k, k) == (int) labels[r]) right++;
        }
        return new long[]{right, counted};
    }

    /** The task's loss for a batch, a one-element Var; {@code smoothing} applies to the image-level class only. */
    static Var loss(Tape t, SceneNet.Out out, DenseGrid.Targets tg, float smoothing) {
        Backend be = t.backend();
        Var total = null;
        if (out.cls() != null) {
            int rows = tg.cls().length;
            float norm = tg.boxNorm();
            Var ce = t.crossEntropy(out.cls(), t.constant(be.upload(tg.cls(), rows)), 0f);
            Var l1 = Losses.smoothL1(t, out.box(), t.constant(be.upload(tg.box(), rows, 4)), L1_BETA, t.constant(be.upload(tg.boxWeight(), rows, 4)));
            Var giou = Losses.giou(t, out.corners(), t.constant(be.upload(tg.giouBox(), rows, 4)), 1e-6f,
                    t.constant(be.upload(tg.giouWeight(), rows, 1)));
            total = t.add(ce, t.add(t.scale(l1, L1_WEIGHT / norm), t.scale(giou, GIOU_WEIGHT / norm)));
        }
        if (out.image() != null) {
            Var ce = t.crossEntropy(out.image(), t.constant(be.upload(tg.image(), tg.image().length)), smoothing);
            total = total == null ? ce : t.add(total, ce);
        }
        if (out.seg() != null) {
            Var ce = t.crossEntropy(out.seg(), t.constant(be.upload(tg.seg(), tg.seg().length)), 0f);
            total = total == null ? ce : t.add(total, ce);
        }
        return total;
    }

    // ---------------------------------------------------------------- inference

    /**
     * What the heads say about {@code count} images, on the host, image after image: cell class logits [count·N, 1 + K],
     * box corners [count·N, 4], each pixel's most likely label [count, S·S] and image-class logits [count, K] (null
     * where the model lacks the head).
     */
    record Raw(float[] cls, float[] corners, int[] labels, float[] image) {
        static Raw of(SceneNet.Out out, SceneNet.Config mc, int count) {
            return of(array(out.cls()), array(out.corners()), array(out.seg()), array(out.image()), mc, count);
        }

        /** From the heads' outputs, the per-pixel logits {@code seg} reduced to labels. */
        static Raw of(float[] cls, float[] corners, float[] seg, float[] image, SceneNet.Config mc, int count) {
            int[] labels = null;
            if (seg != null) {
                int p = mc.imgSize() * mc.imgSize();
                labels = new int[count * p];
                for (int i = 0; i < count; i++) System.arraycopy(DenseGrid.labels(seg, i, mc), 0, labels, i * p, p);
            }
            return new Raw(cls, corners, labels, image);
        }

        /** Image i's label map, or null. */
        int[] labels(int i, SceneNet.Config mc) {
            int p = mc.imgSize() * mc.imgSize();
            return labels == null ? null : Arrays.copyOfRange(labels, i * p, (i + 1) * p);
        }

        /**
         * Every rank's part of a batch of {@code size} images (this rank's, images [from, from + its count), null when
         * its share is empty) assembled on every rank.
         */
        static Raw gather(Collective ranks, Backend be, Raw part, int from, int size, SceneNet.Config mc) {
            int cells = mc.cells(), k = 1 + mc.classes(), p = mc.imgSize() * mc.imgSize();
            float[] cls = mc.detection() ? gather(ranks, be, part == null ? null : part.cls, cells * k, from, size) : null;
            float[] corners = mc.detection() ? gather(ranks, be, part == null ? null : part.corners, cells * 4, from, size) : null;
            float[] image = mc.imageClass() ? gather(ranks, be, part == null ? null : part.image, mc.classes(), from, size) : null;
            int[] labels = null;
            if (mc.segmentation()) {
                float[] mine = new float[part == null ? 0 : part.labels.length];
                for (int q = 0; q < mine.length; q++) mine[q] = part.labels[q];
                float[] all = gather(ranks, be, mine, p, from, size);
                labels = new int[all.length];
                for (int q = 0; q < all.length; q++) labels[q] = (int) all[q];
            }
            return new Raw(cls, corners, labels, image);
        }

        private static float[] gather(Collective ranks, Backend be, float[] part, int perImage, int from, int size) {
            return ranks.gather(be, part == null ? new float[0] : part, from * perImage, size * perImage);
        }

        private static float[] array(Var v) { return v == null ? null : v.value().toArray(); }
    }

    static Raw run(Backend be, SceneNet net, float[] x, int count) {
        SceneNet.Config mc = net.config();
        try (Tape t = Tape.inference(be)) {
            SceneNet.Out out = net.heads(t, t.constant(be.upload(x, count, mc.inChans(), mc.imgSize(), mc.imgSize())));
            return Raw.of(out, mc, count);
        }
    }

    /** One image's answer: its detections (masks filled for instance segmentation) and its label map, as the task has them. */
    public record Prediction(List<DenseGrid.Detection> detections, int[] labels) {}

    /** Predictions for {@code count} normalised images x [count, C, S, S] of a model in evaluation mode (the caller's to set). */
    public static List<Prediction> predict(Backend be, SceneNet net, Task task, float[] x, int count) {
        return decode(net.config(), task, run(be, net, x, count), count);
    }

    static List<Prediction> decode(SceneNet.Config mc, Task task, Raw raw, int count) {
        List<Prediction> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] labels = task.segmentation ? raw.labels(i, mc) : null;
            List<DenseGrid.Detection> dets = switch (task) {
                case LOCALIZE -> List.of(DenseGrid.localize(raw.cls(), raw.corners(), raw.image(), i, mc));
                case DETECT -> DenseGrid.detect(raw.cls(), raw.corners(), i, mc, MIN_SCORE, NMS_IOU, MAX_DETS);
                case SEGMENT -> List.of();
                case INSTANCE -> {
                    List<DenseGrid.Detection> found = DenseGrid.detect(raw.cls(), raw.corners(), i, mc, MIN_SCORE, NMS_IOU, MAX_DETS), d = new ArrayList<>();
                    List<double[]> boxes = found.stream().map(DenseGrid.Detection::box).distinct().toList();
                    for (DenseGrid.Detection det : found)
                        d.add(new DenseGrid.Detection(det.cls(), det.box(), det.score(), DenseGrid.mask(labels, det.box(), boxes, mc.imgSize(), MASK_MARGIN)));
                    yield d;
                }
            };
            out.add(new Prediction(dets, labels));
        }
        return out;
    }

    /** The test loss and the task's metrics (its primary one under {@link Task#metric}); what else they can say. */
    public record Report(double loss, Map<String, Double> metrics, SceneMetrics details) {
        public double primary(Task task) { return metrics.get(task.metric); }
    }

    /** Evaluates {@code task} on every image of {@code data}, {@code batch} images at a time. */
    public static Report evaluate(Backend be, SceneNet net, Task task, SceneData data, float[] pixelStats, int batch) {
        return evaluate(be, net, task, data, pixelStats, batch, Collective.single());
    }

    /**
     * {@link #evaluate} by several ranks at once: of every {@code batch} images each rank runs the model on its share
     * (its loss normalised as part of the batch's), the heads' outputs are gathered, and rank 0 decodes them and scores
     * the task; it gets the report, the others null. The batches are those of one process, so is the loss.
     */
    public static Report evaluate(Backend be, SceneNet net, Task task, SceneData data, float[] pixelStats, int batch, Collective ranks) {
        SceneNet.Config mc = net.config();
        fits(data, mc);
        net.train(false);
        SceneMetrics metrics = new SceneMetrics(task, mc.classes(), mc.imgSize());
        double lossSum = 0;
        int s = mc.imgSize();
        try {
            for (int start = 0; start < data.count(); start += batch) {
                int b = Math.min(batch, data.count() - start), from = ranks.shareFrom(b), to = ranks.shareTo(b);
                int[] idx = new int[b];
                for (int i = 0; i < b; i++) idx[i] = start + i;
                Raw part = null;
                float shareLoss = 0;
                if (to > from) {
                    int[] mine = Arrays.copyOfRange(idx, from, to);
                    float[] x = new float[mine.length * mc.inChans() * s * s];
                    data.batch(mine, pixelStats[0], pixelStats[1], x);
                    try (Tape t = Tape.inference(be)) {
                        SceneNet.Out out = net.heads(t, t.constant(be.upload(x, mine.length, mc.inChans(), s, s)));
                        DenseGrid.Targets tg = DenseGrid.encode(data, idx, mc).share(b, from, to);
                        shareLoss = loss(t, out, tg, 0f).value().toArray()[0] * mine.length;
                        part = Raw.of(out, mc, mine.length);
                    }
                }
                Raw raw = ranks.size() == 1 ? part : Raw.gather(ranks, be, part, from, b, mc);
                lossSum += ranks.sum(be, shareLoss)[0];
                if (ranks.rank() != 0) continue;
                List<Prediction> preds = decode(mc, task, raw, b);
                for (int i = 0; i < b; i++) metrics.add(data, idx[i], preds.get(i));
            }
        } finally {
            net.train(true);
        }
        return ranks.rank() == 0 ? new Report(lossSum / data.count(), metrics.result(), metrics) : null;
    }
}
