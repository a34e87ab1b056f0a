package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.nn.Layer;
import dev.fovea.nn.Act;
import dev.fovea.nn.Conv2d;
import dev.fovea.nn.Init;
import dev.fovea.nn.Linear;
import dev.fovea.nn.Pool2d;
import dev.fovea.nn.Subsampling;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LeNet-5 on 28×28 grey images, in two variants.
 *
 * <p>{@code lenet5}, as LeCun, Bottou, Bengio and Haffner (1998) publish it: C1 6 maps 5×5 (input padded by 2 to
 * the paper's 32×32), S2 2×2 subsampling with a trainable coefficient and bias per map, C3 16 maps 5×5 reading the
 * S2 maps through the paper's connection table, S4, C5 120 maps 5×5 (a convolution over the 5×5 S4 maps), F6 84,
 * and a 10-way softmax output over F6 (the usual modern head in place of the paper's RBF units). Squashing by
 * 1.7159·tanh(2x/3) after every layer but the output.
 *
 * <p>{@code lenet5-full}, as PyTorch tutorials define it: C3 reads all six maps, plain tanh, plain average pooling,
 * then f5 400→120, f6 120→84, out 84→10 — with PyTorch's parameter names (c1, c3, f5, f6, out).
 */
public final class LeNet5 extends Layer implements Classifier {
    /** The paper's table 1: which S2 maps (columns 0–5) each C3 map (0–15) reads. */
    public static final int[][] C3_TABLE = {
            {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5, 0}, {5, 0, 1},
            {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 0}, {4, 5, 0, 1}, {5, 0, 1, 2},
            {0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5},
            {0, 1, 2, 3, 4, 5}};

    public enum Variant {
        PAPER("lenet5"), FULL("lenet5-full");

        public final String id;
        Variant(String id) { this.id = id; }
    }

    public static final int CLASSES = 10;

    private final Variant variant;
    private final Act.Kind act;
    // paper
    private Conv2d c1, c3, c5;
    private Subsampling s2, s4;
    // full
    private Pool2d pool;
    private Linear f5;
    // both
    private final Linear f6;
    private Linear out;

    public LeNet5(Backend be, Variant variant, Act.Kind act, long seed) {
        this.variant = variant;
        this.act = act;
        Init init = new Init(seed);
        c1 = child("c1", new Conv2d(be, init, 1, 6, 5, Conv2dSpec.of(2, 1)));
        if (variant == Variant.PAPER) {
            s2 = child("s2", new Subsampling(be, init, 6));
            c3 = child("c3", new Conv2d(be, init, 6, 16, 5, Conv2dSpec.of(0, 1), c3Table()));
            s4 = child("s4", new Subsampling(be, init, 16));
            c5 = child("c5", new Conv2d(be, init, 16, 120, 5, Conv2dSpec.of(0, 1)));
        } else {
            pool = Pool2d.avg(2, 2);
            c3 = child("c3", new Conv2d(be, init, 6, 16, 5, Conv2dSpec.of(0, 1)));
            f5 = child("f5", new Linear(be, init, 400, 120));
        }
        f6 = child("f6", new Linear(be, init, 120, 84));
        out = child("out", new Linear(be, init, 84, CLASSES));
    }

    /** The default for each variant: scaled tanh for the paper's, plain tanh for the PyTorch one. */
    public static LeNet5 create(Backend be, Variant variant, long seed) {
        return new LeNet5(be, variant, variant == Variant.PAPER ? Act.Kind.SCALED_TANH : Act.Kind.TANH, seed);
    }

    public static boolean[][] c3Table() {
        boolean[][] t = new boolean[16][6];
        for (int o = 0; o < 16; o++) for (int c : C3_TABLE[o]) t[o][c] = true;
        return t;
    }

    public Variant variant() { return variant; }

    @Override public void replaceHead(Backend be, int classes, long seed) {
        out = replaceChild("out", new Linear(be, new Init(seed), 84, classes));
    }

    @Override public java.util.Map<String, Var> headParameters() {
        java.util.Map<String, Var> m = new java.util.LinkedHashMap<>();
        out.namedParameters().forEach((n, v) -> m.put("out." + n, v));
        return m;
    }

    @Override public int classes() { return out.weight.dim(0); }
    public Conv2d c1() { return c1; }
    public Conv2d c3() { return c3; }
    /** C5, or null in lenet5-full (which has the linear f5 instead). */
    public Conv2d c5() { return c5; }
    public Act.Kind activation() { return act; }

    /** x [N, 1, 28, 28] → logits [N, 10]. */
    @Override public Var forward(Tape t, Var x) { return run(t, x, null); }

    /**
     * The maps each stage makes of x, after its activation, by name: C1 [N, 6, 28, 28], S2 [N, 6, 14, 14], C3
     * [N, 16, 10, 10], S4 [N, 16, 5, 5] (lenet5-full: S2 and S4 are its pooling layers' outputs). The forward's own path.
     */
    public Map<String, Var> featureMaps(Tape t, Var x) {
        Map<String, Var> maps = new LinkedHashMap<>();
        run(t, x, maps);
        return maps;
    }

    private Var run(Tape t, Var x, Map<String, Var> maps) {
        if (x.value().rank() != 4 || x.dim(1) != 1 || x.dim(2) != 28 || x.dim(3) != 28)
            throw new IllegalArgumentException(variant.id + ": input: expected [N, 1, 28, 28], got " + dev.fovea.tensor.Shape.str(x.shape()));
        Var h;
        if (variant == Variant.PAPER) {
            h = keep(maps, "C1", f(t, c1.forward(t, x)));        // [N, 6, 28, 28]
            h = keep(maps, "S2", f(t, s2.forward(t, h)));        // [N, 6, 14, 14]
            h = keep(maps, "C3", f(t, c3.forward(t, h)));        // [N, 16, 10, 10]
            h = keep(maps, "S4", f(t, s4.forward(t, h)));        // [N, 16, 5, 5]
            h = f(t, c5.forward(t, h));                          // [N, 120, 1, 1]
            h = t.flatten(h);                                    // [N, 120]
        } else {
            h = keep(maps, "S2", pool.forward(t, keep(maps, "C1", f(t, c1.forward(t, x)))));   // [N, 6, 14, 14]
            h = keep(maps, "S4", pool.forward(t, keep(maps, "C3", f(t, c3.forward(t, h)))));   // [N, 16, 5, 5]
            h = f(t, f5.forward(t, t.flatten(h)));               // [N, 120]
        }
        h = f(t, f6.forward(t, h));            // [N, 84]
        return out.forward(t, h);              // [N, 10]
    }

    private static Var keep(Map<String, Var> maps, String name, Var v) {
        if (maps != null) maps.put(name, v);
        return v;
    }

    private Var f(Tape t, Var x) { return Act.apply(t, act, x); }
}
