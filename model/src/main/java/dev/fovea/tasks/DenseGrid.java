package dev.fovea.tasks;

import dev.fovea.metrics.Boxes;
import dev.fovea.models.SceneNet;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The grid of 8×8 cells between objects and {@link SceneNet}'s per-cell outputs, both ways.
 * <p>
 * Targets (FCOS's centre sampling, Tian et al. 2019): a cell is positive for an object when the cell's centre lies
 * inside the object's box and within 1.5 cells of the box's centre, and the cell holding the box's centre always
 * is; a cell claimed by two objects goes to the nearer centre. A positive cell's class is 1 + the object's class and
 * its box target the distances from the cell's centre to the box's sides; every other cell is background. Crowd
 * regions are nobody's target. The semantic target of each pixel is its label.
 * <p>
 * Decoding: each cell's box with its class probabilities; cells whose best object class reaches a minimum score
 * pass class-agnostic non-maximum suppression (the scenes' objects never overlap, and neighbouring cells of one
 * object may disagree on its class), and each box kept is reported once for each class whose probability reaches the
 * minimum — the per-class scores detectors give COCO's AP.
 */
public final class DenseGrid {
    private DenseGrid() {}

    /** The training targets of a batch; arrays in SceneNet.Out's row order. */
    /**
     * A batch's grid targets, image after image in every array. {@code positives}: the cells given an object; the box
     * losses' sums are divided by {@code boxNorm}: max(1, positives) for a whole batch, that of the batch it came from
     * times the share's part of it for a {@link #share}.
     */
    public record Targets(float[] cls, float[] box, float[] boxWeight, float[] giouBox, float[] giouWeight, float[] seg, float[] image, int positives,
                          float boxNorm) {
        /**
         * Images [from, to) of a batch of {@code size}, normalised as part of the whole: the shares' box losses, each
         * weighted by its part of the batch (as the per-image means are), sum to the batch's.
         */
        public Targets share(int size, int from, int to) {
            int positive = 0;
            float[] c = part(cls, size, from, to);
            if (c != null) for (float v : c) if (v != 0) positive++;
            return new Targets(c, part(box, size, from, to), part(boxWeight, size, from, to), part(giouBox, size, from, to),
                    part(giouWeight, size, from, to), part(seg, size, from, to), part(image, size, from, to), positive, boxNorm * (to - from) / size);
        }

        private static float[] part(float[] a, int size, int from, int to) {
            if (a == null) return null;
            int per = a.length / size;
            return Arrays.copyOfRange(a, from * per, to * per);
        }
    }

    /** A detection: class index, box [x, y, w, h], score, and its mask (row-major over the image) or null. */
    public record Detection(int cls, double[] box, double score, byte[] mask) {}

    static final double RADIUS = 1.5;

    public static Targets encode(SceneData data, int[] idx, SceneNet.Config cfg) { return encode(data, idx, null, cfg); }

    /** The targets of images idx after moves (null: none). */
    public static Targets encode(SceneData data, int[] idx, SceneData.Move[] moves, SceneNet.Config cfg) {
        int b = idx.length, n = cfg.cells(), g = cfg.grid(), s = cfg.imgSize(), st = SceneNet.STRIDE;
        float[] cls = null, box = null, boxW = null, giou = null, giouW = null, seg = null;
        int positives = 0;
        if (cfg.detection()) {
            cls = new float[b * n];
            box = new float[b * n * 4];
            boxW = new float[b * n * 4];
            giou = new float[b * n * 4];
            giouW = new float[b * n];
            for (int i = 0; i < b; i++) {
                SceneData.Objects o = data.objects(idx[i], move(moves, i));
                double[] dist = new double[n];
                Arrays.fill(dist, Double.POSITIVE_INFINITY);
                int[] owner = new int[n];
                Arrays.fill(owner, -1);
                for (int j = 0; j < o.classes().length; j++) {
                    if (o.crowd()[j]) continue;
                    double[] bx = o.boxes()[j];
                    double x0 = bx[0], y0 = bx[1], x1 = bx[0] + bx[2], y1 = bx[1] + bx[3], cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
                    int ccol = Math.min(g - 1, (int) (cx / st)), crow = Math.min(g - 1, (int) (cy / st));
                    for (int gy = 0; gy < g; gy++)
                        for (int gx = 0; gx < g; gx++) {
                            double px = gx * st + st / 2.0, py = gy * st + st / 2.0;
                            boolean inside = px > x0 && px < x1 && py > y0 && py < y1
                                    && Math.abs(px - cx) <= RADIUS * st && Math.abs(py - cy) <= RADIUS * st;
                            if (!inside && !(gx == ccol && gy == crow)) continue;
                            double d = (px - cx) * (px - cx) + (py - cy) * (py - cy);
                            int c = gy * g + gx;
                            if (d < dist[c]) { dist[c] = d; owner[c] = j; }
                        }
                }
                for (int c = 0; c < n; c++) {
                    int r = i * n + c;
                    double px = (c % g) * st + st / 2.0, py = (c / g) * st + st / 2.0;
                    if (owner[c] < 0) {                    // a harmless box for the GIoU of cells that do not count
                        giou[r * 4] = (float) ((px - 4) / s); giou[r * 4 + 1] = (float) ((py - 4) / s);
                        giou[r * 4 + 2] = (float) ((px + 4) / s); giou[r * 4 + 3] = (float) ((py + 4) / s);
                        continue;
                    }
                    double[] bx = o.boxes()[owner[c]];
                    double x0 = bx[0], y0 = bx[1], x1 = bx[0] + bx[2], y1 = bx[1] + bx[3];
                    cls[r] = 1 + o.classes()[owner[c]];
                    double[] ltrb = {px - x0, py - y0, x1 - px, y1 - py};
                    for (int k = 0; k < 4; k++) {
                        box[r * 4 + k] = (float) Math.min(0.999, Math.max(0.001, ltrb[k] / s));
                        boxW[r * 4 + k] = 1f;
                    }
                    giou[r * 4] = (float) (x0 / s); giou[r * 4 + 1] = (float) (y0 / s);
                    giou[r * 4 + 2] = (float) (x1 / s); giou[r * 4 + 3] = (float) (y1 / s);
                    giouW[r] = 1f;
                    positives++;
                }
            }
        }
        if (cfg.segmentation()) {
            seg = new float[b * n * st * st];
            int r = 0;
            for (int i = 0; i < b; i++) {
                SceneData.Move m = move(moves, i);
                for (int gy = 0; gy < g; gy++)
                    for (int gx = 0; gx < g; gx++)
                        for (int py = 0; py < st; py++)
                            for (int px = 0; px < st; px++)
                                seg[r++] = data.label(idx[i], m, (gy * st + py) * s + gx * st + px);
            }
        }
        float[] image = null;
        if (cfg.imageClass()) {                        // the largest object's class (the only one, in localization data)
            image = new float[b];
            for (int i = 0; i < b; i++) {
                SceneData.Objects o = data.objects(idx[i]);
                double area = -1;
                for (int j = 0; j < o.classes().length; j++)
                    if (!o.crowd()[j] && o.boxes()[j][2] * o.boxes()[j][3] > area) { area = o.boxes()[j][2] * o.boxes()[j][3]; image[i] = o.classes()[j]; }
            }
        }
        return new Targets(cls, box, boxW, giou, giouW, seg, image, positives, Math.max(1, positives));
    }

    private static SceneData.Move move(SceneData.Move[] moves, int i) { return moves == null ? SceneData.Move.NONE : moves[i]; }

    /** Softmax of row r of [rows, k] logits. */
    static float[] softmax(float[] logits, int r, int k) {
        float[] p = new float[k];
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]);
        double sum = 0;
        for (int j = 0; j < k; j++) sum += p[j] = (float) Math.exp(logits[r * k + j] - max);
        for (int j = 0; j < k; j++) p[j] /= (float) sum;
        return p;
    }

    /** Row r's box as [x, y, w, h] in pixels, clipped to the image, from corners [B·N, 4] over the image side. */
    static double[] box(float[] corners, int r, SceneNet.Config cfg) {
        int s = cfg.imgSize();
        double x0 = Math.max(0, corners[r * 4] * s), y0 = Math.max(0, corners[r * 4 + 1] * s);
        double x1 = Math.min(s, corners[r * 4 + 2] * s), y1 = Math.min(s, corners[r * 4 + 3] * s);
        return new double[]{x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)};
    }

    /**
     * Image i's detections from cls [B·N, 1+K] logits and corners [B·N, 4], best first: boxes whose best class reaches
     * {@code minScore}, after class-agnostic NMS at {@code nmsIou}, each with every class of probability ≥ minScore
     * (at most {@code maxDets} in all). Masks are left null.
     */
    public static List<Detection> detect(float[] cls, float[] corners, int i, SceneNet.Config cfg, double minScore, double nmsIou, int maxDets) {
        int n = cfg.cells(), k = 1 + cfg.classes();
        List<double[]> boxes = new ArrayList<>();
        List<float[]> probs = new ArrayList<>();
        List<Double> scores = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            float[] p = softmax(cls, i * n + c, k);
            double best = 0;
            for (int j = 1; j < k; j++) best = Math.max(best, p[j]);
            if (best < minScore) continue;
            boxes.add(box(corners, i * n + c, cfg));
            probs.add(p);
            scores.add(best);
        }
        int[] kept = Boxes.nms(boxes.toArray(double[][]::new), scores.stream().mapToDouble(Double::doubleValue).toArray(), nmsIou);
        List<Detection> out = new ArrayList<>();
        for (int q : kept)
            for (int j = 1; j < k; j++)
                if (probs.get(q)[j] >= minScore) out.add(new Detection(j - 1, boxes.get(q), probs.get(q)[j], null));
        out.sort((a, b) -> Double.compare(b.score(), a.score()));
        return out.size() > maxDets ? new ArrayList<>(out.subList(0, maxDets)) : out;
    }

    /**
     * Image i's single object (localization): the class the image head finds most probable (its probability the
     * score), in the box of the cell that gives that class the highest probability; without an image head, the cell
     * whose best object class is most probable, with that class.
     */
    public static Detection localize(float[] cls, float[] corners, float[] image, int i, SceneNet.Config cfg) {
        int n = cfg.cells(), k = 1 + cfg.classes();
        if (image != null) {
            float[] p = softmax(image, i, cfg.classes());
            int c = 0, cell = 0;
            for (int j = 1; j < p.length; j++) if (p[j] > p[c]) c = j;
            float best = -1;
            for (int q = 0; q < n; q++) {
                float pc = softmax(cls, i * n + q, k)[1 + c];
                if (pc > best) { best = pc; cell = q; }
            }
            return new Detection(c, box(corners, i * n + cell, cfg), p[c], null);
        }
        int bestCell = 0, bestClass = 1;
        float bestP = -1;
        for (int c = 0; c < n; c++) {
            float[] p = softmax(cls, i * n + c, k);
            for (int j = 1; j < k; j++)
                if (p[j] > bestP) { bestP = p[j]; bestCell = c; bestClass = j; }
        }
        return new Detection(bestClass - 1, box(corners, i * n + bestCell, cfg), bestP, null);
    }

    /** Image i's label map [S·S] (0 background, 1 + class) from seg [B·N·64, 1+K] logits. */
    public static int[] labels(float[] seg, int i, SceneNet.Config cfg) {
        int g = cfg.grid(), s = cfg.imgSize(), st = SceneNet.STRIDE, k = 1 + cfg.classes(), n = cfg.cells();
        int[] out = new int[s * s];
        int r = i * n * st * st;
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++)
                for (int py = 0; py < st; py++)
                    for (int px = 0; px < st; px++, r++) {
                        int best = 0;
                        for (int j = 1; j < k; j++) if (seg[r * k + j] > seg[r * k + best]) best = j;
                        out[(gy * st + py) * s + gx * st + px] = best;
                    }
        return out;
    }

    /**
     * An instance's mask: the foreground pixels (any object class in {@code labels}) inside its box, and those within
     * {@code margin} pixels around it that no other box covers (boxes compared by identity: one box may carry several classes) — so that a box a pixel short does not cut its
     * object, nor a neighbour's edge join it.
     */
    public static byte[] mask(int[] labels, double[] box, List<double[]> others, int size, int margin) {
        byte[] m = new byte[size * size];
        int x0 = Math.max(0, (int) Math.floor(box[0]) - margin), y0 = Math.max(0, (int) Math.floor(box[1]) - margin);
        int x1 = Math.min(size, (int) Math.ceil(box[0] + box[2]) + margin), y1 = Math.min(size, (int) Math.ceil(box[1] + box[3]) + margin);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                if (labels[y * size + x] == 0) continue;
                boolean take = inside(box, x, y);
                if (!take) {
                    take = true;
                    for (double[] o : others) if (o != box && inside(o, x, y)) { take = false; break; }
                }
                if (take) m[y * size + x] = 1;
            }
        return m;
    }

    /** Whether pixel (x, y)'s centre lies in box [x, y, w, h]. */
    private static boolean inside(double[] b, int x, int y) {
        return x + 0.5 > b[0] && x + 0.5 < b[0] + b[2] && y + 0.5 > b[1] && y + 0.5 < b[1] + b[3];
    }
}
