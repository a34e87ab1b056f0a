package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.tensor.Shape;

import java.util.Arrays;

/**
 * The losses of the tasks beyond classification, written with the tape's element-wise ops (so every backend runs
 * them and autodiff differentiates them): smooth-L1 and generalized IoU for boxes, Dice for masks. Cross-entropy is
 * the tape's own fused op. The kinks use relu: |d| = relu(d) + relu(−d), min(a, b) = a − relu(a − b),
 * max(a, b) = a + relu(b − a).
 */
public final class Losses {
    private Losses() {}

    /**
     * PyTorch's {@code smooth_l1_loss} (mean): 0.5·d²/β where |d| < β, else |d| − 0.5·β, for d = pred − target;
     * any shape, the two alike.
     */
    public static Var smoothL1(Tape t, Var pred, Var target, float beta) {
        return mean(t, smoothL1Each(t, pred, target, beta));
    }

    /** Σ weight·smoothL1 element by element, weight a constant of pred's shape (0 where an element does not count). */
    public static Var smoothL1(Tape t, Var pred, Var target, float beta, Var weight) {
        sameShape("smooth-L1 weight", pred, weight);
        return t.sum(t.mul(smoothL1Each(t, pred, target, beta), weight));
    }

    private static Var smoothL1Each(Tape t, Var pred, Var target, float beta) {
        if (!(beta > 0)) throw new IllegalArgumentException("smooth-L1: beta must be > 0, got " + beta);
        sameShape("smooth-L1", pred, target);
        Var d = sub(t, pred, target);
        Var a = abs(t, d);
        Var m = sub(t, a, relu(t, addScalar(t, a, -beta)));                 // min(|d|, β)
        return t.add(t.scale(t.mul(m, m), 0.5f / beta), sub(t, a, m));
    }

    /**
     * Generalized IoU loss (Rezatofighi et al. 2019), mean of 1 − GIoU over N box pairs [N, 4] given as
     * (x0, y0, x1, y1) with x1 ≥ x0 and y1 ≥ y0: IoU minus the part of the smallest enclosing box that the union
     * leaves empty. {@code eps} keeps degenerate boxes finite.
     */
    public static Var giou(Tape t, Var pred, Var target, float eps) {
        return mean(t, addScalar(t, t.scale(giouEach(t, pred, target, eps), -1f), 1f));
    }

    /** Σ weight·(1 − GIoU) over the pairs, weight a constant [N, 1] (0 for a pair that does not count). */
    public static Var giou(Tape t, Var pred, Var target, float eps, Var weight) {
        Var loss = addScalar(t, t.scale(giouEach(t, pred, target, eps), -1f), 1f);
        sameShape("GIoU weight", loss, weight);
        return t.sum(t.mul(loss, weight));
    }

    /** GIoU of each pair, [N, 1]. */
    private static Var giouEach(Tape t, Var pred, Var target, float eps) {
        sameShape("GIoU", pred, target);
        if (pred.shape().length != 2 || pred.dim(1) != 4)
            throw new IllegalArgumentException("GIoU: boxes must be [N, 4] (x0, y0, x1, y1), got " + Shape.str(pred.shape()));
        Var[] p = coords(t, pred), g = coords(t, target);                   // each [N, 1]
        Var areaP = t.mul(sub(t, p[2], p[0]), sub(t, p[3], p[1]));
        Var areaG = t.mul(sub(t, g[2], g[0]), sub(t, g[3], g[1]));
        Var iw = relu(t, sub(t, min(t, p[2], g[2]), max(t, p[0], g[0])));
        Var ih = relu(t, sub(t, min(t, p[3], g[3]), max(t, p[1], g[1])));
        Var inter = t.mul(iw, ih);
        Var union = addScalar(t, sub(t, t.add(areaP, areaG), inter), eps);
        Var iou = t.div(inter, union);
        Var cw = sub(t, max(t, p[2], g[2]), min(t, p[0], g[0]));
        Var ch = sub(t, max(t, p[3], g[3]), min(t, p[1], g[1]));
        Var hull = addScalar(t, t.mul(cw, ch), eps);
        return sub(t, iou, t.div(sub(t, hull, union), hull));
    }

    /**
     * Dice loss over the whole batch: 1 − (2·Σ p·y + ε) / (Σ p + Σ y + ε), for probabilities p and 0/1 targets y of
     * the same shape.
     */
    public static Var dice(Tape t, Var prob, Var target, float eps) {
        sameShape("Dice", prob, target);
        Var inter = addScalar(t, t.scale(t.sum(t.mul(prob, target)), 2f), eps);
        Var total = addScalar(t, t.add(t.sum(prob), t.sum(target)), eps);
        return addScalar(t, t.scale(t.div(inter, total), -1f), 1f);
    }

    // ---------------------------------------------------------------- element-wise helpers

    static Var sub(Tape t, Var a, Var b) { return t.add(a, t.scale(b, -1f)); }

    static Var relu(Tape t, Var x) { return t.activation(dev.fovea.backend.Activation.RELU, x); }

    static Var abs(Tape t, Var x) { return t.add(relu(t, x), relu(t, t.scale(x, -1f))); }

    static Var min(Tape t, Var a, Var b) { return sub(t, a, relu(t, sub(t, a, b))); }

    static Var max(Tape t, Var a, Var b) { return t.add(a, relu(t, sub(t, b, a))); }

    /** x + c, c broadcast over x. */
    static Var addScalar(Tape t, Var x, float c) {
        int last = x.dim(x.shape().length - 1);
        float[] v = new float[last];
        Arrays.fill(v, c);
        return t.add(x, t.constant(x.value().backend().upload(v, last)));
    }

    static Var mean(Tape t, Var x) { return t.scale(t.sum(x), 1f / x.value().numel()); }

    /** The four columns of [N, 4] boxes, each [N, 1]. */
    private static Var[] coords(Tape t, Var boxes) {
        Var[] c = new Var[4];
        for (int i = 0; i < 4; i++) c[i] = t.slice(boxes, 1, i, 1);
        return c;
    }

    private static void sameShape(String loss, Var a, Var b) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(loss + ": prediction " + Shape.str(a.shape()) + " and target " + Shape.str(b.shape()) + " differ in shape");
    }
}
