package dev.fovea.testing;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Epilogue;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import dev.fovea.backend.Backend;
import dev.fovea.testing.Bed.Mirror;
import dev.fovea.testing.Bed.Pair;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static dev.fovea.testing.Bed.close;
import static dev.fovea.testing.Bed.dims;
import static dev.fovea.testing.Bed.property;
import static dev.fovea.testing.Bed.r;

/**
 * Every op of a backend against the double-precision reference on generated shapes: odd sizes, vector tails, 1-sized
 * dimensions, padding, strides larger than the kernel, groups — forward and backward. A subclass names the backend
 * and the relative tolerance its precision allows ({@code CpuVsReferenceTest}, {@code CudaVsReferenceTest}); the
 * shapes were chosen for the CPU's kernels (register tiles, K slices, thread splits) and serve any backend.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendVsReference {
    protected final Backend be, control;
    final double tol;

    /**
     * @param under   the backend under test, or null when it cannot run here (the subclass then skips, saying why)
     * @param control what it is compared with: the double-precision reference, or another backend
     * @param tol     the relative error allowed (see {@link Bed#close})
     * Both backends are closed after the class's tests.
     */
    protected BackendVsReference(Backend under, Backend control, double tol) {
        this.be = under;
        this.control = control;
        this.tol = tol;
    }

    protected BackendVsReference(Backend under, double tol) { this(under, new ReferenceBackend(), tol); }

    @AfterAll void done() {
        if (be != null) be.close();
        control.close();
    }

    Mirror mirror() { return new Mirror(be, control); }

    // ---------------------------------------------------------------- GEMM

    @TestFactory List<DynamicTest> gemm() {
        List<DynamicTest> tests = new ArrayList<>();
        for (boolean ta : new boolean[]{false, true})
            for (boolean tb : new boolean[]{false, true}) {
                String t = (ta ? "T" : "N") + (tb ? "T" : "N");
                tests.add(property("gemm " + t + " small odd sizes", 40, dims(r(1, 23), r(1, 41), r(1, 37)), d -> gemmCase(ta, tb, 1, d[0], d[1], d[2], 1f, 0f, false, false)));
                tests.add(property("gemm " + t + " around the register tile and vector tails", 30, dims(r(5, 40), r(14, 70), r(15, 300)), d -> gemmCase(ta, tb, 1, d[0], d[1], d[2], 1f, 0f, false, false)));
                tests.add(property("gemm " + t + " alpha, beta", 25, dims(r(1, 30), r(1, 50), r(1, 40)), d -> gemmCase(ta, tb, 1, d[0], d[1], d[2], -0.75f, 0.5f, false, false)));
                tests.add(property("gemm " + t + " batched, shared operands", 25, dims(r(1, 5), r(1, 20), r(1, 33), r(1, 20), r(0, 2)),
                        d -> gemmCase(ta, tb, d[0], d[1], d[2], d[3], 1f, 0f, d[4] == 1, d[4] == 2)));
            }
        tests.add(property("gemm NN beyond one K slice and many row panels", 4, dims(r(130, 270), r(40, 140), r(257, 600)), d -> gemmCase(false, false, 1, d[0], d[1], d[2], 1f, 1f, false, false)));
        // m >= n: threads split rows only, each packing all of B
        for (boolean ta : new boolean[]{true, false})
            tests.add(property("gemm " + (ta ? "T" : "N") + "N tall and narrow", 4, dims(r(241, 520), r(3, 60), r(20, 300)), d -> gemmCase(ta, false, 1, d[0], d[1], d[2], 1f, 0f, false, false)));
        // several NC-wide column blocks on one thread: rows split (m >= n), or columns split across the 3 threads
        tests.add(property("gemm TN beyond one column block, rows split", 2, dims(r(1030, 1060), r(1025, 1030), r(3, 12)), d -> gemmCase(true, false, 1, d[0], d[1], d[2], 1f, 0f, false, false)));
        // products past Gemm.SHARED_MIN (m·n·k ≥ 2^26): the threads pack each B block together and claim A panels
        tests.add(property("gemm NN large, B blocks shared between threads", 2, dims(r(350, 420), r(250, 300), r(800, 1000)), d -> gemmCase(false, false, 1, d[0], d[1], d[2], 1f, 0f, false, false)));
        tests.add(property("gemm TT large, beyond one column block, shared", 2, dims(r(150, 200), r(1030, 1100), r(450, 600)), d -> gemmCase(true, true, 1, d[0], d[1], d[2], -0.5f, 0.25f, false, false)));
        tests.add(property("gemm NT beyond one column block, columns split", 3, dims(r(5, 30), r(3080, 3300), r(10, 40)), d -> gemmCase(false, true, 1, d[0], d[1], d[2], 0.5f, 1f, false, false)));
        // epilogues (bias, residual; d[3] picks which): written into each tile before the first K slice adds its
        // product (beta 0; ragged edges, more than one K slice), added with C (beta 1), in the
        // small-product paths (few rows, tiny), on the shared-B path (large), past one B block of K (long K)
        tests.add(property("gemm NT with an epilogue, beta 0", 30, dims(r(13, 80), r(1, 90), r(1, 300), r(1, 3)), d -> gemmEpilogueCase(d[0], d[1], d[2], 0f, d[3])));
        tests.add(property("gemm NT with an epilogue, beta 1", 10, dims(r(13, 80), r(1, 90), r(1, 300), r(1, 3)), d -> gemmEpilogueCase(d[0], d[1], d[2], 1f, d[3])));
        tests.add(property("gemm NT with an epilogue, small products", 15, dims(r(1, 12), r(1, 30), r(1, 20), r(1, 3)), d -> gemmEpilogueCase(d[0], d[1], d[2], 0f, d[3])));
        tests.add(property("gemm NT with an epilogue, B blocks shared", 2, dims(r(350, 420), r(250, 300), r(800, 1000), r(3, 3)), d -> gemmEpilogueCase(d[0], d[1], d[2], 0f, d[3])));
        tests.add(property("gemm NT with an epilogue, K past one B block", 2, dims(r(30, 60), r(1030, 1100), r(300, 400), r(3, 3)), d -> gemmEpilogueCase(d[0], d[1], d[2], 0f, d[3])));
        return tests;
    }

    /**
     * A linear layer's product with its epilogue: x [M, K] times wᵀ (w [N, K]), then a bias [N] on every row (parts
     * bit 1), a residual [M, N] (bit 2).
     */
    void gemmEpilogueCase(int m, int n, int k, float beta, int parts) {
        SplittableRandom r = Bed.rng(m, n, k, (int) beta, parts);
        try (Mirror mr = mirror()) {
            Pair a = mr.random(r, m, k), b = mr.random(r, n, k), bias = mr.random(r, n), res = mr.random(r, m, n), c = mr.random(r, m, n);
            be.gemm(a.under(), false, b.under(), true, c.under(), 1f, beta,
                    new Epilogue((parts & 1) != 0 ? bias.under() : null, (parts & 2) != 0 ? res.under() : null));
            control.gemm(a.control(), false, b.control(), true, c.control(), 1f, beta,
                    new Epilogue((parts & 1) != 0 ? bias.control() : null, (parts & 2) != 0 ? res.control() : null));
            close(c, tol, "gemm with epilogue " + parts);
        }
    }

    void gemmCase(boolean ta, boolean tb, int batch, int m, int n, int k, float alpha, float beta, boolean shareA, boolean shareB) {
        SplittableRandom r = Bed.rng(batch, m, n, k, ta ? 1 : 0, tb ? 1 : 0);
        try (Mirror mr = mirror()) {
            int[] as = ta ? new int[]{k, m} : new int[]{m, k}, bs = tb ? new int[]{n, k} : new int[]{k, n};
            boolean batched = batch > 1 || shareA || shareB;
            Pair a = mr.random(r, batched && !shareA ? prepend(batch, as) : as);
            Pair b = mr.random(r, batched && !shareB ? prepend(batch, bs) : bs);
            Pair c = mr.random(r, batched ? new int[]{batch, m, n} : new int[]{m, n});
            be.gemm(a.under(), ta, b.under(), tb, c.under(), alpha, beta);
            control.gemm(a.control(), ta, b.control(), tb, c.control(), alpha, beta);
            close(c, tol, "gemm");
        }
    }

    static int[] prepend(int b, int[] s) { return new int[]{b, s[0], s[1]}; }

    // ---------------------------------------------------------------- convolution

    @TestFactory List<DynamicTest> conv2d() {
        List<DynamicTest> tests = new ArrayList<>();
        // d = {n, c, h, w, o, kh, kw, pad, stride, groups-choice[, table]}
        record Cls(String name, int examples, int[][] ranges) {}
        List<Cls> classes = List.of(
                new Cls("3x3 pad 1 stride 1", 20, new int[][]{r(1, 3), r(1, 5), r(3, 12), r(3, 12), r(1, 6), r(3, 3), r(3, 3), r(1, 1), r(1, 1), r(0, 0)}),
                new Cls("odd kernels, padding and strides", 30, new int[][]{r(1, 4), r(1, 4), r(5, 17), r(5, 17), r(1, 7), r(1, 5), r(1, 5), r(0, 3), r(1, 3), r(0, 0)}),
                new Cls("stride larger than the kernel", 20, new int[][]{r(1, 3), r(1, 3), r(6, 20), r(6, 20), r(1, 4), r(1, 3), r(1, 3), r(0, 1), r(4, 6), r(0, 0)}),
                new Cls("groups", 25, new int[][]{r(1, 3), r(1, 3), r(4, 11), r(4, 11), r(1, 3), r(1, 4), r(1, 4), r(0, 2), r(1, 2), r(2, 4)}),
                new Cls("1x1 stride 1 (direct GEMM)", 20, new int[][]{r(1, 4), r(1, 9), r(1, 9), r(1, 9), r(1, 9), r(1, 1), r(1, 1), r(0, 0), r(1, 1), r(0, 2)}),
                new Cls("1-sized dimensions", 20, new int[][]{r(1, 1), r(1, 1), r(1, 6), r(1, 6), r(1, 1), r(1, 1), r(1, 3), r(0, 1), r(1, 2), r(0, 0)}),
                new Cls("few channels, 5x5 stride 1, wide rows (direct conv, vector tails)", 20, new int[][]{r(1, 5), r(1, 6), r(5, 40), r(5, 40), r(1, 9), r(5, 5), r(5, 5), r(0, 2), r(1, 1), r(0, 0)}),
                new Cls("5-wide kernels, stride 1, 16 output maps a group (forward and filter gradient along channels)", 15, new int[][]{r(1, 5), r(1, 6), r(5, 16), r(5, 16), r(16, 16), r(3, 7), r(5, 5), r(0, 2), r(1, 1), r(0, 2)}),
                new Cls("5x5 stride 1, 32 output maps (forward and filter gradient along channels)", 8, new int[][]{r(1, 3), r(1, 4), r(5, 12), r(5, 12), r(32, 32), r(5, 5), r(5, 5), r(0, 2), r(1, 1), r(0, 0)}),
                new Cls("few channels, width 28, pad 2 (LeNet-5's C1)", 12, new int[][]{r(1, 4), r(1, 3), r(5, 28), r(28, 28), r(1, 9), r(3, 5), r(3, 5), r(2, 2), r(1, 1), r(0, 0)}),
                new Cls("5x5 stride 1, a connection table: a third of the weight blocks zero", 15, new int[][]{r(1, 5), r(1, 6), r(5, 16), r(5, 16), r(1, 16), r(5, 5), r(3, 5), r(0, 2), r(1, 1), r(0, 0), r(1, 1)}),
                new Cls("LeNet-5's C3: 6 maps of 14x14 to 16, 5x5, a connection table", 6, new int[][]{r(1, 9), r(6, 6), r(14, 14), r(14, 14), r(16, 16), r(5, 5), r(5, 5), r(0, 0), r(1, 1), r(0, 0), r(1, 1)}),
                new Cls("many channels, stride 1 (im2col + GEMM)", 10, new int[][]{r(1, 3), r(17, 24), r(3, 9), r(3, 9), r(17, 24), r(3, 3), r(3, 3), r(0, 1), r(1, 1), r(0, 0)}),
                new Cls("batch larger than the thread count", 8, new int[][]{r(5, 9), r(2, 4), r(6, 10), r(6, 10), r(2, 5), r(3, 3), r(3, 3), r(1, 1), r(1, 2), r(0, 1)}));
        for (Cls c : classes)
            for (String dir : List.of("forward", "backward data", "backward filter", "backward bias"))
                tests.add(property("conv2d " + dir + ": " + c.name(), c.examples(), dims(c.ranges()), BackendVsReference::kernelFits, d -> convCase(dir, d)));
        // a kernel as large as the image, no padding: a 1x1 output, computed as one GEMM over the batch (LeNet-5's C5)
        for (String dir : List.of("forward", "backward data", "backward filter"))
            tests.add(property("conv2d " + dir + ": kernel covers the whole image", 15, dims(r(1, 9), r(1, 6), r(1, 6), r(1, 6), r(1, 9)),
                    d -> convCase(dir, new int[]{d[0], d[1], d[2], d[3], d[4], d[2], d[3], 0, 1, 0})));
        return tests;
    }

    /** The kernel fits in the padded image (a larger one is an argument error, which ArgumentCheckTest covers). */
    public static boolean kernelFits(int[] d) { return d[2] + 2 * d[7] >= d[5] && d[3] + 2 * d[7] >= d[6]; }

    void convCase(String dir, int[] d) {
        // groups-choice g>0 multiplies channels so that groups divide them
        int g = Math.max(1, d[9]);
        int n = d[0], c = d[1] * g, h = d[2], w = d[3], o = d[4] * g, kh = d[5], kw = d[6], pad = d[7], stride = d[8];
        Conv2dSpec s = new Conv2dSpec(pad, pad, stride, stride, g);
        int[] xs = {n, c, h, w}, ws = {o, c / g, kh, kw}, ys = s.outputShape(xs, ws);
        SplittableRandom r = Bed.rng(d);
        try (Mirror m = mirror()) {
            Pair x = m.random(r, xs);
            float[] wv = Bed.random(r, o * (c / g) * kh * kw);
            // a connection table (table = 1): the kh×kw block of output map oc over input map ci is zero where (oc + ci) % 3 == 0
            if (d.length > 10 && d[10] == 1)
                for (int oc = 0; oc < o; oc++)
                    for (int ci = 0; ci < c / g; ci++)
                        if ((oc + ci) % 3 == 0) Arrays.fill(wv, (oc * (c / g) + ci) * kh * kw, (oc * (c / g) + ci + 1) * kh * kw, 0f);
            Pair wt = m.of(wv, ws), b = m.random(r, o), y = m.random(r, ys);
            switch (dir) {
                case "forward" -> {
                    be.conv2dForward(x.under(), wt.under(), b.under(), y.under(), s);
                    control.conv2dForward(x.control(), wt.control(), b.control(), y.control(), s);
                    close(y, tol, "conv2d forward");
                }
                case "backward data" -> {
                    Pair dx = m.random(r, xs); // garbage in: the op must overwrite it
                    be.conv2dBackwardData(y.under(), wt.under(), dx.under(), s);
                    control.conv2dBackwardData(y.control(), wt.control(), dx.control(), s);
                    close(dx, tol, "conv2d backward data");
                }
                case "backward filter" -> {
                    Pair dw = m.random(r, ws);
                    be.conv2dBackwardFilter(x.under(), y.under(), dw.under(), s);
                    control.conv2dBackwardFilter(x.control(), y.control(), dw.control(), s);
                    close(dw, tol, "conv2d backward filter");
                }
                default -> {
                    Pair db = m.random(r, o);
                    be.conv2dBackwardBias(y.under(), db.under());
                    control.conv2dBackwardBias(y.control(), db.control());
                    close(db, tol, "conv2d backward bias");
                }
            }
        }
    }

    // ---------------------------------------------------------------- pooling

    @TestFactory List<DynamicTest> pool2d() {
        List<DynamicTest> tests = new ArrayList<>();
        // d = {n, c, h, w, k, stride, pad}
        record Cls(String name, int[][] ranges) {}
        List<Cls> classes = List.of(
                new Cls("k2 s2", new int[][]{r(1, 3), r(1, 5), r(2, 15), r(2, 15), r(2, 2), r(2, 2), r(0, 0)}),
                new Cls("k3 s2 pad 1", new int[][]{r(1, 3), r(1, 4), r(3, 14), r(3, 14), r(3, 3), r(2, 2), r(1, 1)}),
                new Cls("stride larger than the window", new int[][]{r(1, 2), r(1, 3), r(5, 16), r(5, 16), r(1, 3), r(3, 5), r(0, 1)}),
                new Cls("any window, padding, stride", new int[][]{r(1, 3), r(1, 3), r(1, 12), r(1, 12), r(1, 5), r(1, 3), r(0, 2)}));
        for (Pool2dSpec.Mode mode : Pool2dSpec.Mode.values())
            for (Cls c : classes)
                for (boolean fwd : new boolean[]{true, false})
                    tests.add(property("pool2d " + mode + " " + (fwd ? "forward" : "backward") + ": " + c.name(), 25, dims(c.ranges()),
                            BackendVsReference::windowFits, d -> poolCase(mode, fwd, d)));
        return tests;
    }

    /** The window fits in the padded image (padding is at most half the window). */
    public static boolean windowFits(int[] d) {
        int k = d[4], pad = Math.min(d[6], k / 2);
        return d[2] + 2 * pad >= k && d[3] + 2 * pad >= k;
    }

    void poolCase(Pool2dSpec.Mode mode, boolean fwd, int[] d) {
        int k = d[4], pad = Math.min(d[6], k / 2);
        Pool2dSpec s = new Pool2dSpec(mode, k, k, d[5], d[5], pad, pad);
        int[] xs = {d[0], d[1], d[2], d[3]}, ys = s.outputShape(xs);
        SplittableRandom r = Bed.rng(d);
        try (Mirror m = mirror()) {
            Pair x = m.random(r, xs), y = m.zeros(ys);
            be.pool2dForward(s, x.under(), y.under());
            control.pool2dForward(s, x.control(), y.control());
            if (fwd) { close(y, tol, "pool2d forward"); return; }
            Pair dy = m.random(r, ys), dx = m.random(r, xs);
            be.pool2dBackward(s, x.under(), y.under(), dy.under(), dx.under());
            control.pool2dBackward(s, x.control(), y.control(), dy.control(), dx.control());
            close(dx, tol, "pool2d backward");
        }
    }

    // ---------------------------------------------------------------- activations, softmax, cross-entropy, layer norm

    @TestFactory List<DynamicTest> activations() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Activation f : Activation.values())
            for (boolean fwd : new boolean[]{true, false}) {
                tests.add(property(f + " " + (fwd ? "forward" : "backward") + ": vector tails", 30, dims(r(1, 3), r(1, 70)), d -> actCase(f, fwd, d, 3f)));
                tests.add(property(f + " " + (fwd ? "forward" : "backward") + ": large values, many threads", 6, dims(r(40, 80), r(600, 1200)), d -> actCase(f, fwd, d, 12f)));
            }
        // zero, tiny and signed values, in vector lanes and the scalar tail
        float[] nearZero = {0f, -0f, 1e-38f, -1e-30f, 1e-20f, -1e-12f, 3e-8f, -1e-4f, 0.01f, -0.3f, 1f, -2f, 5f, -9f, 14f, -20f,
                1e-25f, -1e-19f, 0f};
        for (Activation f : Activation.values())
            tests.add(DynamicTest.dynamicTest(f + " backward at and near zero", () -> actValues(f, false, new int[]{1, nearZero.length}, nearZero, Bed.rng(19))));
        return tests;
    }

    void actCase(Activation f, boolean fwd, int[] d, float range) {
        SplittableRandom r = Bed.rng(d);
        float[] xv = Bed.random(r, d[0] * d[1]);
        for (int i = 0; i < xv.length; i++) xv[i] *= range;
        actValues(f, fwd, d, xv, r);
    }

    void actValues(Activation f, boolean fwd, int[] d, float[] xv, SplittableRandom r) {
        try (Mirror m = mirror()) {
            Pair x = m.of(xv, d), y = m.zeros(d);
            be.activationForward(f, x.under(), y.under());
            control.activationForward(f, x.control(), y.control());
            if (fwd) { close(y, tol, f + " forward"); return; }
            Pair dy = m.random(r, d), dx = m.zeros(d);
            // both backwards see the reference's y so that only the backward is compared
            try (Tensor yc = be.upload(y.control().toArray(), d)) { be.copy(yc, y.under()); }
            be.activationBackward(f, x.under(), y.under(), dy.under(), dx.under());
            control.activationBackward(f, x.control(), y.control(), dy.control(), dx.control());
            close(dx, tol, f + " backward");
            // in place: dx may be dy
            float[] apart = dx.under().toArray();
            be.activationBackward(f, x.under(), y.under(), dy.under(), dy.under());
            org.junit.jupiter.api.Assertions.assertArrayEquals(apart, dy.under().toArray(), f + " backward in place");
        }
    }

    @TestFactory List<DynamicTest> softmax() {
        List<DynamicTest> tests = new ArrayList<>();
        for (boolean causal : new boolean[]{false, true}) {
            tests.add(property("softmax forward" + (causal ? " causal" : "") + ": rows and tails", 40, dims(r(1, 4), r(1, 9), r(1, 70)), d -> softmaxCase(d, causal, true)));
            tests.add(property("softmax backward" + (causal ? " causal" : "") + ": rows and tails", 40, dims(r(1, 4), r(1, 9), r(1, 70)), d -> softmaxCase(d, causal, false)));
        }
        return tests;
    }

    void softmaxCase(int[] d, boolean causal, boolean fwd) {
        SplittableRandom r = Bed.rng(d);
        int[] s = causal ? new int[]{d[0], d[1], d[1]} : d;
        try (Mirror m = mirror()) {
            float[] xv = Bed.random(r, d[0] * d[1] * s[2]);
            for (int i = 0; i < xv.length; i++) xv[i] *= 8;
            Pair x = m.of(xv, s), y = m.zeros(s);
            be.softmaxForward(x.under(), y.under(), causal);
            control.softmaxForward(x.control(), y.control(), causal);
            if (fwd) { close(y, tol, "softmax forward"); return; }
            Pair dy = m.random(r, s), dx = m.zeros(s);
            be.softmaxBackward(y.under(), dy.under(), dx.under());
            control.softmaxBackward(y.control(), dy.control(), dx.control());
            close(dx, tol, "softmax backward");
        }
    }

    @TestFactory List<DynamicTest> crossEntropy() {
        List<DynamicTest> tests = new ArrayList<>();
        for (float eps : new float[]{0f, 0.1f})
            for (boolean fwd : new boolean[]{true, false})
                tests.add(property("cross-entropy " + (fwd ? "forward" : "backward") + " smoothing " + eps, 40, dims(r(1, 40), r(1, 40)), d -> xentCase(d, eps, fwd)));
        return tests;
    }

    void xentCase(int[] d, float eps, boolean fwd) {
        SplittableRandom r = Bed.rng(d);
        int n = d[0], c = d[1];
        float[] lab = new float[n];
        for (int i = 0; i < n; i++) lab[i] = r.nextInt(c);
        try (Mirror m = mirror()) {
            float[] lv = Bed.random(r, n * c);
            for (int i = 0; i < lv.length; i++) lv[i] *= 5;
            Pair logits = m.of(lv, n, c), labels = m.of(lab, n), probs = m.zeros(n, c), loss = m.zeros(1);
            be.crossEntropyForward(logits.under(), labels.under(), probs.under(), loss.under(), eps);
            control.crossEntropyForward(logits.control(), labels.control(), probs.control(), loss.control(), eps);
            if (fwd) { close(loss, tol, "cross-entropy loss"); close(probs, tol, "cross-entropy probs"); return; }
            Pair dl = m.of(new float[]{0.7f}, 1), g = m.zeros(n, c);
            be.crossEntropyBackward(probs.under(), labels.under(), dl.under(), g.under(), eps);
            control.crossEntropyBackward(probs.control(), labels.control(), dl.control(), g.control(), eps);
            close(g, tol, "cross-entropy backward");
        }
    }

    @TestFactory List<DynamicTest> layerNorm() {
        return List.of(
                property("layer norm forward: widths around the vector length", 40, dims(r(1, 3), r(1, 7), r(1, 70)), d -> lnCase(d, true)),
                property("layer norm backward: widths around the vector length", 40, dims(r(1, 3), r(1, 7), r(1, 70)), d -> lnCase(d, false)),
                property("layer norm backward: many rows across threads", 5, dims(r(200, 400), r(100, 200)), d -> lnCase(new int[]{1, d[0], d[1]}, false)));
    }

    void lnCase(int[] d, boolean fwd) {
        SplittableRandom r = Bed.rng(d);
        int rows = d[0] * d[1], w = d[2];
        try (Mirror m = mirror()) {
            Pair x = m.random(r, d), g = m.random(r, w), b = m.random(r, w), y = m.zeros(d), mu = m.zeros(rows), rs = m.zeros(rows);
            be.layerNormForward(x.under(), g.under(), b.under(), 1e-5f, y.under(), mu.under(), rs.under());
            control.layerNormForward(x.control(), g.control(), b.control(), 1e-5f, y.control(), mu.control(), rs.control());
            if (fwd) { close(y, tol, "layer norm"); close(mu, tol, "layer norm mean"); close(rs, tol, "layer norm rstd"); return; }
            Pair dy = m.random(r, d), dx = m.zeros(d), dg = m.random(r, w), db = m.random(r, w);
            be.layerNormBackward(dy.under(), x.under(), g.under(), mu.under(), rs.under(), dx.under(), dg.under(), db.under());
            control.layerNormBackward(dy.control(), x.control(), g.control(), mu.control(), rs.control(), dx.control(), dg.control(), db.control());
            close(dx, tol, "layer norm dx"); close(dg, tol, "layer norm dgamma"); close(db, tol, "layer norm dbeta");
        }
    }

    // ---------------------------------------------------------------- attention

    @TestFactory public List<DynamicTest> attention() {
        List<DynamicTest> tests = new ArrayList<>();
        for (boolean causal : new boolean[]{false, true})
            for (boolean fwd : new boolean[]{true, false}) {
                String n = "attention " + (fwd ? "forward" : "backward") + (causal ? " causal" : "");
                tests.add(property(n + ": T = S", 25, dims(r(1, 2), r(1, 3), r(1, 20), r(1, 40)), d -> attnCase(d[0], d[1], d[2], d[2], d[3], d[3], causal, fwd)));
                tests.add(property(n + ": T != S, Dv != D", 25, dims(r(1, 2), r(1, 3), r(1, 12), r(1, 12), r(1, 20), r(1, 20)), d -> attnCase(d[0], d[1], d[2], d[3], d[4], d[5], causal, fwd)));
                // S above Attention.ROWS_MAX_S: the blocked GEMM kernels (backward; forward above MEDIUM_MAX_S) or the
                // eight-row products in query blocks (forward); T past one block of 64 queries
                tests.add(property(n + ": long S", 6, dims(r(1, 1), r(1, 2), r(1, 70), r(65, 150), r(1, 20), r(1, 20)), d -> attnCase(d[0], d[1], d[2], d[3], d[4], d[5], causal, fwd)));
                tests.add(property(n + ": S of a few hundred", 4, dims(r(1, 1), r(1, 2), r(60, 140), r(180, 300), r(1, 70), r(1, 40)), d -> attnCase(d[0], d[1], d[2], d[3], d[4], d[5], causal, fwd)));
            }
        // the CPU's medium forward (Attention.ROWS_MAX_S < S ≤ MEDIUM_MAX_S: 33 or 65 to 256 keys with AVX2 or AVX-512
        // vectors): key and value panels whole or ragged (one vector or two), several query blocks, a last block of a few rows
        for (boolean causal : new boolean[]{false, true})
            tests.add(property("attention forward" + (causal ? " causal" : "") + ": medium S, any D and Dv", 12,
                    dims(r(1, 2), r(1, 2), r(1, 140), r(33, 256), r(1, 80), r(1, 80)),
                    d -> attnCase(d[0], d[1], d[2], d[3], d[4], d[5], causal, true)));
        return tests;
    }

    protected void attnCase(int b, int h, int t, int s, int d, int dv, boolean causal, boolean fwd) {
        SplittableRandom r = Bed.rng(b, h, t, s, d, dv, causal ? 1 : 0);
        float scale = (float) (1 / Math.sqrt(d));
        try (Mirror m = mirror()) {
            Pair q = m.random(r, b, h, t, d), k = m.random(r, b, h, s, d), v = m.random(r, b, h, s, dv);
            Pair o = m.zeros(b, h, t, dv), lse = m.zeros(b, h, t);
            be.attentionForward(q.under(), k.under(), v.under(), o.under(), lse.under(), scale, causal);
            control.attentionForward(q.control(), k.control(), v.control(), o.control(), lse.control(), scale, causal);
            if (fwd) { close(o, tol, "attention out"); close(lse, tol, "attention lse"); return; }
            Pair dout = m.random(r, b, h, t, dv), dq = m.random(r, b, h, t, d), dk = m.random(r, b, h, s, d), dvv = m.random(r, b, h, s, dv);
            be.attentionBackward(q.under(), k.under(), v.under(), o.under(), lse.under(), dout.under(), dq.under(), dk.under(), dvv.under(), scale, causal);
            control.attentionBackward(q.control(), k.control(), v.control(), o.control(), lse.control(), dout.control(), dq.control(), dk.control(), dvv.control(), scale, causal);
            close(dq, tol, "attention dq"); close(dk, tol, "attention dk"); close(dvv, tol, "attention dv");
        }
    }

    @TestFactory public List<DynamicTest> attentionPacked() {
        List<DynamicTest> tests = new ArrayList<>();
        for (boolean causal : new boolean[]{false, true})
            for (boolean fwd : new boolean[]{true, false}) {
                String n = "packed qkv attention " + (fwd ? "forward" : "backward") + (causal ? " causal" : "");
                // T up to ROWS_MAX_S: the short-sequence kernels; past it the medium forward's query blocks (T ≤ 256),
                // the GEMM blocks (longer), and the blocked backward
                tests.add(property(n + ": short", 20, dims(r(1, 3), r(1, 4), r(1, 40), r(1, 24)), d -> packedCase(d[0], d[1], d[2], d[3], causal, fwd)));
                tests.add(property(n + ": long", 6, dims(r(1, 2), r(1, 3), r(65, 300), r(1, 40)), d -> packedCase(d[0], d[1], d[2], d[3], causal, fwd)));
            }
        // one image's few heads, fewer than the threads can share evenly: the CPU's forward cuts each head's queries
        // into parts (ViT-Ti/16 at batch 1: 3 heads of 197 tokens)
        tests.add(property("packed qkv attention forward: one image, heads cut by queries", 4, dims(r(1, 1), r(1, 2), r(190, 200), r(60, 64)),
                d -> packedCase(d[0], d[1], d[2], d[3], false, true)));
        return tests;
    }

    /** The backend's in-place packed kernels against the reference, which separates q, k, v by permute and slices. */
    protected void packedCase(int b, int h, int t, int d, boolean causal, boolean fwd) {
        SplittableRandom r = Bed.rng(b, h, t, d, causal ? 1 : 0);
        float scale = (float) (1 / Math.sqrt(d));
        try (Mirror m = mirror()) {
            Pair qkv = m.random(r, b, t, 3, h, d), o = m.random(r, b, t, h, d), lse = m.random(r, b, h, t);
            be.attentionPackedForward(qkv.under(), o.under(), lse.under(), scale, causal);
            control.attentionPackedForward(qkv.control(), o.control(), lse.control(), scale, causal);
            if (fwd) { close(o, tol, "packed attention out"); close(lse, tol, "packed attention lse"); return; }
            Pair dout = m.random(r, b, t, h, d), dqkv = m.random(r, b, t, 3, h, d);
            be.attentionPackedBackward(qkv.under(), o.under(), lse.under(), dout.under(), dqkv.under(), scale, causal);
            control.attentionPackedBackward(qkv.control(), o.control(), lse.control(), dout.control(), dqkv.control(), scale, causal);
            close(dqkv, tol, "packed attention dqkv");
        }
    }

    // ---------------------------------------------------------------- element-wise and layout

    @TestFactory List<DynamicTest> elementwise() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String op : List.of("add", "mul", "div"))
            for (int bRank = 0; bRank <= 3; bRank++) {
                final int br = bRank;
                tests.add(property(op + " with b over the last " + br + " axes", 25, dims(r(1, 4), r(1, 5), r(1, 40)), d -> binaryCase(op, d, br)));
            }
        tests.add(property("scale", 25, dims(r(1, 50), r(1, 50)), d -> {
            SplittableRandom r = Bed.rng(d);
            try (Mirror m = mirror()) {
                Pair x = m.random(r, d), o = m.zeros(d);
                be.scale(x.under(), -1.5f, o.under()); control.scale(x.control(), -1.5f, o.control());
                close(o, tol, "scale");
            }
        }));
        tests.add(property("axpy", 25, dims(r(1, 50), r(1, 50)), d -> {
            SplittableRandom r = Bed.rng(d);
            try (Mirror m = mirror()) {
                Pair x = m.random(r, d), y = m.random(r, d);
                be.axpy(0.3f, x.under(), y.under()); control.axpy(0.3f, x.control(), y.control());
                close(y, tol, "axpy");
            }
        }));
        tests.add(property("sum over any axes", 60, dims(r(1, 4), r(1, 5), r(1, 6), r(1, 33), r(0, 15)), d -> {
            SplittableRandom r = Bed.rng(d);
            int[] xs = {d[0], d[1], d[2], d[3]};
            List<Integer> axes = new ArrayList<>();
            for (int a = 0; a < 4; a++) if ((d[4] >> a & 1) == 1) axes.add(a);
            int[] ax = axes.stream().mapToInt(Integer::intValue).toArray();
            List<Integer> kept = new ArrayList<>();
            for (int a = 0; a < 4; a++) if (!axes.contains(a)) kept.add(xs[a]);
            try (Mirror m = mirror()) {
                Pair x = m.random(r, xs), o = m.zeros(kept.stream().mapToInt(Integer::intValue).toArray());
                be.sum(x.under(), o.under(), ax); control.sum(x.control(), o.control(), ax);
                close(o, tol, "sum over " + axes);
            }
        }));
        return tests;
    }

    void binaryCase(String op, int[] d, int bRank) {
        SplittableRandom r = Bed.rng(d);
        int[] bs = java.util.Arrays.copyOfRange(d, d.length - bRank, d.length);
        try (Mirror m = mirror()) {
            Pair a = m.random(r, d), o = m.zeros(d);
            float[] bv = Bed.random(r, (int) dev.fovea.tensor.Shape.numel(bs));
            if (op.equals("div")) for (int i = 0; i < bv.length; i++) bv[i] = Math.copySign(0.5f + Math.abs(bv[i]), bv[i]);   // away from 0
            Pair b = m.of(bv, bs);
            switch (op) {
                case "add" -> { be.add(a.under(), b.under(), o.under()); control.add(a.control(), b.control(), o.control()); }
                case "mul" -> { be.mul(a.under(), b.under(), o.under()); control.mul(a.control(), b.control(), o.control()); }
                default -> { be.div(a.under(), b.under(), o.under()); control.div(a.control(), b.control(), o.control()); }
            }
            close(o, tol, op);
        }
    }

    @TestFactory List<DynamicTest> layout() {
        List<DynamicTest> tests = new ArrayList<>();
        tests.add(property("permute, every order of 4 axes", 60, dims(r(1, 4), r(1, 5), r(1, 6), r(1, 7), r(0, 23)), d -> {
            int[] perm = nthPermutation(4, d[4]);
            int[] xs = {d[0], d[1], d[2], d[3]}, os = new int[4];
            for (int i = 0; i < 4; i++) os[i] = xs[perm[i]];
            try (Mirror m = mirror()) {
                Pair x = m.random(Bed.rng(d), xs), o = m.zeros(os);
                be.permute(x.under(), o.under(), perm); control.permute(x.control(), o.control(), perm);
                close(o, 0, "permute " + java.util.Arrays.toString(perm));
            }
        }));
        tests.add(property("slice and insertSlice along any axis", 60, dims(r(1, 4), r(1, 6), r(1, 9), r(0, 2), r(0, 8), r(1, 8)), d -> {
            int[] xs = {d[0], d[1], d[2]};
            int axis = d[3], start = d[4] % xs[axis], len = 1 + (d[5] - 1) % (xs[axis] - start);
            int[] ps = xs.clone();
            ps[axis] = len;
            try (Mirror m = mirror()) {
                SplittableRandom r = Bed.rng(d);
                Pair x = m.random(r, xs), part = m.zeros(ps), back = m.random(r, xs);
                be.slice(x.under(), axis, start, part.under()); control.slice(x.control(), axis, start, part.control());
                close(part, 0, "slice");
                be.insertSlice(part.under(), axis, start, back.under()); control.insertSlice(part.control(), axis, start, back.control());
                close(back, 0, "insertSlice");
            }
        }));
        tests.add(property("concat of three along any axis", 40, dims(r(1, 3), r(1, 4), r(1, 5), r(0, 2)), d -> {
            int axis = d[3];
            try (Mirror m = mirror()) {
                SplittableRandom r = Bed.rng(d);
                List<Pair> parts = new ArrayList<>();
                int total = 0;
                for (int i = 0; i < 3; i++) {
                    int[] s = {d[0], d[1], d[2]};
                    s[axis] = 1 + i;
                    total += s[axis];
                    parts.add(m.random(r, s));
                }
                int[] os = {d[0], d[1], d[2]};
                os[axis] = total;
                Pair o = m.zeros(os);
                be.concat(parts.stream().map(Pair::under).toList(), axis, o.under());
                control.concat(parts.stream().map(Pair::control).toList(), axis, o.control());
                close(o, 0, "concat");
            }
        }));
        tests.add(property("gather and scatterAdd with repeated rows", 40, dims(r(1, 9), r(1, 40), r(1, 12)), d -> {
            SplittableRandom r = Bed.rng(d);
            float[] idx = new float[d[2]];
            for (int i = 0; i < idx.length; i++) idx[i] = r.nextInt(d[0]);
            try (Mirror m = mirror()) {
                Pair table = m.random(r, d[0], d[1]), ix = m.of(idx, d[2]), out = m.zeros(d[2], d[1]), src = m.random(r, d[2], d[1]);
                be.gather(table.under(), ix.under(), out.under()); control.gather(table.control(), ix.control(), out.control());
                close(out, 0, "gather");
                be.scatterAdd(src.under(), ix.under(), table.under()); control.scatterAdd(src.control(), ix.control(), table.control());
                close(table, tol, "scatterAdd");
            }
        }));
        return tests;
    }

    static int[] nthPermutation(int n, int k) {
        List<Integer> pool = new ArrayList<>();
        for (int i = 0; i < n; i++) pool.add(i);
        int[] p = new int[n];
        int f = 1;
        for (int i = 2; i < n; i++) f *= i;
        for (int i = 0; i < n; i++) {
            int q = k / f;
            p[i] = pool.remove(q);
            k %= f;
            if (n - 1 - i > 0) f /= (n - 1 - i);
        }
        return p;
    }

    // ---------------------------------------------------------------- optimizers

    @TestFactory List<DynamicTest> optimizers() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String kind : List.of("plain", "momentum", "nesterov", "weight decay"))
            tests.add(property("SGD " + kind + ", three steps", 25, dims(r(1, 20), r(1, 70)), d -> {
                float mu = kind.equals("plain") || kind.equals("weight decay") ? 0f : 0.9f, wd = kind.equals("weight decay") ? 0.01f : 0f;
                SplittableRandom r = Bed.rng(d);
                try (Mirror m = mirror()) {
                    Pair p = m.random(r, d), buf = m.zeros(d);
                    for (int step = 0; step < 3; step++) {
                        Pair g = m.random(r, d);
                        be.sgdStep(p.under(), g.under(), buf.under(), 0.1f, mu, wd, kind.equals("nesterov"));
                        control.sgdStep(p.control(), g.control(), buf.control(), 0.1f, mu, wd, kind.equals("nesterov"));
                    }
                    close(p, tol, "sgd param"); close(buf, tol, "sgd velocity");
                }
            }));
        tests.add(property("AdamW, three steps", 25, dims(r(1, 20), r(1, 70)), d -> {
            SplittableRandom r = Bed.rng(d);
            try (Mirror m = mirror()) {
                Pair p = m.random(r, d), mm = m.zeros(d), vv = m.zeros(d);
                for (int step = 1; step <= 3; step++) {
                    Pair g = m.random(r, d);
                    be.adamWStep(p.under(), g.under(), mm.under(), vv.under(), step, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f);
                    control.adamWStep(p.control(), g.control(), mm.control(), vv.control(), step, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f);
                }
                close(p, tol, "adamw param"); close(mm, tol, "adamw m"); close(vv, tol, "adamw v");
            }
        }));
        return tests;
    }
}
