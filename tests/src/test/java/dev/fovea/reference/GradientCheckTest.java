package dev.fovea.reference;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.testing.Bed;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static dev.fovea.testing.Bed.dims;
import static dev.fovea.testing.Bed.property;
import static dev.fovea.testing.Bed.r;

/**
 * The control checks itself: every backward of {@link Ref} against central finite differences of its forward,
 * all in double precision. The scalar loss is Σ out·R for a random R, so the analytic gradient is backward(R).
 */
class GradientCheckTest {
    static final double H = 1e-6, TOL = 1e-6;

    /** Asserts analytic ≈ ∂(Σ f(x)·R)/∂x by central differences. */
    static void check(String what, double[] x, Function<double[], double[]> f, double[] rr, double[] analytic) {
        double[] numeric = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + H;
            double up = dot(f.apply(x), rr);
            x[i] = keep - H;
            double down = dot(f.apply(x), rr);
            x[i] = keep;
            numeric[i] = (up - down) / (2 * H);
        }
        double e = Bed.relErr(analytic, numeric);
        if (!(e <= TOL)) throw new AssertionError(what + ": analytic vs numeric gradient relative error " + e);
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static double[] rand(SplittableRandom r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = r.nextDouble() * 2 - 1;
        return a;
    }

    @TestFactory List<DynamicTest> gradients() {
        List<DynamicTest> t = new ArrayList<>();
        t.add(property("gradcheck conv2d x, w, bias (padding, stride, groups)", 12,
                dims(r(1, 2), r(1, 2), r(3, 6), r(3, 6), r(1, 2), r(1, 3), r(0, 1), r(1, 2), r(1, 2)), d -> {
                    int g = d[8], c = d[1] * g, o = d[4] * g, k = d[5], pad = d[6], st = d[7];
                    Conv2dSpec s = new Conv2dSpec(pad, pad, st, st, g);
                    int[] xs = {d[0], c, d[2], d[3]}, ws = {o, c / g, k, k};
                    SplittableRandom rnd = Bed.rng(d);
                    double[] x = rand(rnd, d[0] * c * d[2] * d[3]), w = rand(rnd, o * (c / g) * k * k), b = rand(rnd, o);
                    int[] ys = s.outputShape(xs, ws);
                    double[] rr = rand(rnd, ys[0] * ys[1] * ys[2] * ys[3]);
                    double[][] an = Ref.conv2dBackward(x, xs, w, ws, rr, s);
                    check("conv2d dx", x, xx -> Ref.conv2d(xx, xs, w, ws, b, s), rr, an[0]);
                    check("conv2d dw", w, ww -> Ref.conv2d(x, xs, ww, ws, b, s), rr, an[1]);
                    check("conv2d db", b, bb -> Ref.conv2d(x, xs, w, ws, bb, s), rr, an[2]);
                }));
        for (Pool2dSpec.Mode mode : Pool2dSpec.Mode.values())
            t.add(property("gradcheck pool2d " + mode, 12, dims(r(1, 2), r(1, 2), r(2, 7), r(2, 7), r(1, 3), r(1, 3), r(0, 1)),
                    dev.fovea.testing.BackendVsReference::windowFits, d -> {
                int k = d[4], pad = Math.min(d[6], k / 2);
                Pool2dSpec s = new Pool2dSpec(mode, k, k, d[5], d[5], pad, pad);
                int[] xs = {d[0], d[1], d[2], d[3]}, ys = s.outputShape(xs);
                SplittableRandom rnd = Bed.rng(d);
                double[] x = rand(rnd, d[0] * d[1] * d[2] * d[3]), rr = rand(rnd, ys[0] * ys[1] * ys[2] * ys[3]);
                check("pool dx", x, xx -> Ref.pool(s, xx, xs), rr, Ref.poolBackward(s, x, xs, rr));
            }));
        for (Activation f : Activation.values())
            t.add(property("gradcheck " + f, 10, dims(r(1, 40)), d -> {
                SplittableRandom rnd = Bed.rng(d);
                double[] x = rand(rnd, d[0]), rr = rand(rnd, d[0]), an = new double[d[0]];
                for (int i = 0; i < x.length; i++) { x[i] *= 4; an[i] = Ref.actGrad(f, x[i]) * rr[i]; }
                check(f.toString(), x, xx -> { double[] y = new double[xx.length]; for (int i = 0; i < y.length; i++) y[i] = Ref.act(f, xx[i]); return y; }, rr, an);
            }));
        for (boolean causal : new boolean[]{false, true})
            t.add(property("gradcheck softmax" + (causal ? " causal" : ""), 12, dims(r(1, 3), r(1, 8)), d -> {
                int n = d[1], rows = d[0] * n;
                SplittableRandom rnd = Bed.rng(d);
                double[] x = rand(rnd, rows * n), rr = rand(rnd, rows * n);
                double[] y = Ref.softmax(x, n, n, causal);
                check("softmax dx", x, xx -> Ref.softmax(xx, n, n, causal), rr, Ref.softmaxBackward(y, rr, n));
            }));
        t.add(property("gradcheck cross-entropy with label smoothing", 12, dims(r(1, 6), r(1, 9)), d -> {
            SplittableRandom rnd = Bed.rng(d);
            int[] lab = new int[d[0]];
            for (int i = 0; i < lab.length; i++) lab[i] = rnd.nextInt(d[1]);
            double[] x = rand(rnd, d[0] * d[1]), rr = {0.8};
            check("xent dlogits", x, xx -> new double[]{Ref.crossEntropy(xx, lab, d[1], 0.1)}, rr, Ref.crossEntropyBackward(x, lab, d[1], 0.1, 0.8));
        }));
        t.add(property("gradcheck layer norm x, gamma, beta", 12, dims(r(1, 4), r(2, 20)), d -> {
            int w = d[1];
            SplittableRandom rnd = Bed.rng(d);
            double[] x = rand(rnd, d[0] * w), g = rand(rnd, w), b = rand(rnd, w), rr = rand(rnd, d[0] * w);
            double[][] fw = Ref.layerNorm(x, g, b, w, 1e-5);
            double[][] an = Ref.layerNormBackward(x, g, rr, fw[1], fw[2], w);
            check("layernorm dx", x, xx -> Ref.layerNorm(xx, g, b, w, 1e-5)[0], rr, an[0]);
            check("layernorm dgamma", g, gg -> Ref.layerNorm(x, gg, b, w, 1e-5)[0], rr, an[1]);
            check("layernorm dbeta", b, bb -> Ref.layerNorm(x, g, bb, w, 1e-5)[0], rr, an[2]);
        }));
        for (boolean causal : new boolean[]{false, true})
            t.add(property("gradcheck attention q, k, v" + (causal ? " causal" : ""), 10, dims(r(1, 2), r(1, 5), r(1, 5), r(1, 4), r(1, 4)), d -> {
                int bh = d[0], tt = d[1], s = d[2], dd = d[3], dv = d[4];
                SplittableRandom rnd = Bed.rng(d);
                double[] q = rand(rnd, bh * tt * dd), k = rand(rnd, bh * s * dd), v = rand(rnd, bh * s * dv), rr = rand(rnd, bh * tt * dv);
                double sc = 1 / Math.sqrt(dd);
                double[][] an = Ref.attentionBackward(q, k, v, rr, bh, tt, s, dd, dv, sc, causal);
                check("attention dq", q, qq -> Ref.attention(qq, k, v, bh, tt, s, dd, dv, sc, causal)[0], rr, an[0]);
                check("attention dk", k, kk -> Ref.attention(q, kk, v, bh, tt, s, dd, dv, sc, causal)[0], rr, an[1]);
                check("attention dv", v, vv -> Ref.attention(q, k, vv, bh, tt, s, dd, dv, sc, causal)[0], rr, an[2]);
            }));
        return t;
    }
}
