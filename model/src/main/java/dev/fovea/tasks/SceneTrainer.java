package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.models.SceneNet;
import dev.fovea.nn.Losses;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Training and evaluation of a {@link SceneNet} on a task. The loss is DETR's mix for boxes — cross-entropy over
 * each cell's classes (background included), plus 5 × smooth-L1 (β = 0.02, nearly L1) on the side distances and
 * 2 × (1 − GIoU) on the boxes, both summed over positive cells and divided by their count — and per-pixel
 * cross-entropy for segmentation. The epoch loop mirrors {@link Trainer}'s: epoch e's order comes from (seed, e),
 * one tape per step. With {@code cfg.augment()}, each training scene is mirrored half the time and moved as a whole
 * (its objects staying on the canvas): the same objects, a new picture of them every epoch.
 */
public final class SceneTrainer {
    static final float L1_WEIGHT = 5f, GIOU_WEIGHT = 2f, L1_BETA = 0.02f;
    /** Decoding: the least class probability reported, NMS overlap, detections per image (COCO's maxDets). */
    public static final double MIN_SCORE = 0.05, NMS_IOU = 0.5;
    public static final int MAX_DETS = 100;
    /** With augmentation, scenes move by up to a quarter of their side each way (two cells of a 64-pixel scene). */
    static final int MAX_SHIFT_FRACTION = 4;
    /** Pixels an instance mask may reach beyond its box. */
    static final int MASK_MARGIN = 2;

    private final Backend be;
    private final SceneNet net;
    private final Optimizer opt;
    private final TrainConfig cfg;
    private final Task task;
    private final SceneData train;
    private final float mean, std;
    private final LrSchedule schedule;
    private long step;

    public SceneTrainer(Backend be, SceneNet net, Optimizer opt, TrainConfig cfg, Task task, SceneData train, float[] pixelStats, long stepsDone) {
        this.be = be;
        this.net = net;
        this.opt = opt;
        this.cfg = cfg;
        this.task = task;
        this.train = train;
        this.mean = pixelStats[0];
        this.std = pixelStats[1];
        this.schedule = cfg.newSchedule((train.count() + cfg.batch() - 1) / cfg.batch());
        this.step = stepsDone;
    }

    public long steps() { return step; }

    private Tape.Profile profile;

    /** Records per-op timings of every following step into p (null stops). */
    public void profile(Tape.Profile p) { this.profile = p; }

    /**
     * One epoch; its running loss, and as "accuracy" the fraction of positive cells given their object's class
     * (detection tasks) or of pixels given their label (segmentation); test fields NaN.
     */
    public EpochMetrics trainEpoch(int epoch, Trainer.Listener l) {
        net.train(true);
        long t0 = System.nanoTime();
        int[] order = Batches.permutation(train.count(), Trainer.epochSeed(cfg.seed(), epoch));
        int batches = (order.length + cfg.batch() - 1) / cfg.batch();
        double lossSum = 0;
        long right = 0, counted = 0, seen = 0;
        float lr = 0;
        SceneNet.Config mc = net.config();
        float[] x = new float[cfg.batch() * mc.inChans() * mc.imgSize() * mc.imgSize()];
        SplittableRandom moves = cfg.augment() ? new SplittableRandom(Trainer.epochSeed(cfg.seed(), epoch) ^ 0x5DEECE66DL) : null;
        for (int bi = 0; bi < batches; bi++) {
            int[] idx = java.util.Arrays.copyOfRange(order, bi * cfg.batch(), Math.min(order.length, (bi + 1) * cfg.batch()));
            int b = idx.length;
            SceneData.Move[] m = null;
            if (moves != null) {
                m = new SceneData.Move[b];
                for (int i = 0; i < b; i++) m[i] = train.randomMove(idx[i], moves, mc.imgSize() / MAX_SHIFT_FRACTION);
            }
            train.batch(idx, m, mean, std, x);
            DenseGrid.Targets tg = DenseGrid.encode(train, idx, m, mc);
            lr = schedule.lr(step);
            try (Tape t = Tape.training(be).profile(profile)) {
                SceneNet.Out out = net.heads(t, t.constant(be.upload(java.util.Arrays.copyOf(x, b * x.length / cfg.batch()), b, mc.inChans(), mc.imgSize(), mc.imgSize())));
                Var loss = loss(t, out, tg, cfg.labelSmoothing());
                float lv = Trainer.descend(loss, net, opt, lr, epoch, ++step);
                lossSum += (double) lv * b;
                long[] acc = task.detection ? cellAccuracy(out.cls().value().toArray(), tg.cls(), 1 + mc.classes())
                        : cellAccuracy(out.seg().value().toArray(), tg.seg(), 1 + mc.classes());
                right += acc[0];
                counted += acc[1];
            }
            seen += b;
            l.onStep(epoch, bi + 1, batches, seen, (System.nanoTime() - t0) / 1e9, lossSum / seen);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new EpochMetrics(epoch, lossSum / seen, counted > 0 ? (double) right / counted : Double.NaN, Double.NaN, Double.NaN, seen / secs, secs, lr);
    }

    /** {right, counted}: rows whose argmax is their label, among the positive rows (detection) or all rows (pixels). */
    private long[] cellAccuracy(float[] logits, float[] labels, int k) {
        long right = 0, counted = 0;
        for (int r = 0; r < labels.length; r++) {
            if (task.detection && labels[r] == 0) continue;
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
            float norm = Math.max(1, tg.positives());
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

    /** What the heads say about a batch, on the host. */
    record Raw(float[] cls, float[] corners, float[] seg, float[] image) {
        static Raw of(SceneNet.Out out) {
            return new Raw(array(out.cls()), array(out.corners()), array(out.seg()), array(out.image()));
        }

        private static float[] array(Var v) { return v == null ? null : v.value().toArray(); }
    }

    static Raw run(Backend be, SceneNet net, float[] x, int count) {
        SceneNet.Config mc = net.config();
        try (Tape t = Tape.inference(be)) {
            SceneNet.Out out = net.heads(t, t.constant(be.upload(x, count, mc.inChans(), mc.imgSize(), mc.imgSize())));
            return Raw.of(out);
        }
    }

    /** One image's answer: its detections (masks filled for instance segmentation) and its label map, as the task has them. */
    public record Prediction(List<DenseGrid.Detection> detections, int[] labels) {}

    /** Predictions for {@code count} normalised images x [count, C, S, S]. */
    public static List<Prediction> predict(Backend be, SceneNet net, Task task, float[] x, int count) {
        net.train(false);
        try {
            return decode(net.config(), task, run(be, net, x, count), count);
        } finally {
            net.train(true);
        }
    }

    static List<Prediction> decode(SceneNet.Config mc, Task task, Raw raw, int count) {
        List<Prediction> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] labels = task.segmentation ? DenseGrid.labels(raw.seg(), i, mc) : null;
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
        SceneNet.Config mc = net.config();
        if (data.size() != mc.imgSize() || data.channels() != mc.inChans())
            throw new IllegalArgumentException(data.coco().annotationsFile() + ": images are " + data.channels() + "x" + data.size() + "x" + data.size()
                    + ", the model takes " + mc.inChans() + "x" + mc.imgSize() + "x" + mc.imgSize());
        net.train(false);
        SceneMetrics metrics = new SceneMetrics(task, mc.classes(), mc.imgSize());
        double lossSum = 0;
        int s = mc.imgSize();
        float[] x = new float[batch * mc.inChans() * s * s];
        try {
            for (int start = 0; start < data.count(); start += batch) {
                int b = Math.min(batch, data.count() - start);
                int[] idx = new int[b];
                for (int i = 0; i < b; i++) idx[i] = start + i;
                data.batch(idx, pixelStats[0], pixelStats[1], x);
                Raw raw;
                try (Tape t = Tape.inference(be)) {
                    SceneNet.Out out = net.heads(t, t.constant(be.upload(java.util.Arrays.copyOf(x, b * mc.inChans() * s * s), b, mc.inChans(), s, s)));
                    lossSum += (double) loss(t, out, DenseGrid.encode(data, idx, mc), 0f).value().toArray()[0] * b;
                    raw = Raw.of(out);
                }
                List<Prediction> preds = decode(mc, task, raw, b);
                for (int i = 0; i < b; i++) metrics.add(data, idx[i], preds.get(i));
            }
        } finally {
            net.train(true);
        }
        return new Report(lossSum / data.count(), metrics.result(), metrics);
    }
}
