package dev.fovea.reference;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.HeapBackend;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

/**
 * A backend that runs every op through {@link Ref} in double precision and rounds the result to float32 once.
 * It is the control the CPU (and CUDA) backends are checked against; it shares argument checking with them
 * through {@link dev.fovea.backend.Backend}.
 */
public final class ReferenceBackend extends HeapBackend {
    @Override public String name() { return "reference"; }
    @Override public String describe() { return "reference: plain double-precision loops (test control)"; }

    static double[] d(Tensor t) {
        float[] f = data(t);
        double[] r = new double[f.length];
        for (int i = 0; i < f.length; i++) r[i] = f[i];
        return r;
    }

    static void put(double[] src, Tensor t) {
        float[] f = data(t);
        for (int i = 0; i < f.length; i++) f[i] = (float) src[i];
    }

    @Override protected void gemmImpl(int batch, int m, int n, int k, Tensor a, boolean transA, long strideA,
                                      Tensor b, boolean transB, long strideB, Tensor c, float alpha, float beta) {
        double[] cv = d(c);
        Ref.gemm(batch, m, n, k, d(a), transA, strideA, d(b), transB, strideB, cv, alpha, beta);
        put(cv, c);
    }

    @Override protected void conv2dForwardImpl(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s) {
        put(Ref.conv2d(d(x), x.shape(), d(w), w.shape(), bias == null ? null : d(bias), s), y);
    }

    @Override protected void conv2dBackwardDataImpl(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s) {
        put(Ref.conv2dBackward(new double[dx.numel()], dx.shape(), d(w), w.shape(), d(dy), s)[0], dx);
    }

    @Override protected void conv2dBackwardFilterImpl(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s) {
        put(Ref.conv2dBackward(d(x), x.shape(), new double[dw.numel()], dw.shape(), d(dy), s)[1], dw);
    }

    @Override protected void conv2dBackwardBiasImpl(Tensor dy, Tensor db) {
        int[] ys = dy.shape();
        double[] dyv = d(dy), out = new double[ys[1]];
        for (int n = 0; n < ys[0]; n++)
            for (int o = 0; o < ys[1]; o++)
                for (int i = 0; i < ys[2] * ys[3]; i++) out[o] += dyv[(n * ys[1] + o) * ys[2] * ys[3] + i];
        put(out, db);
    }

    @Override protected void pool2dForwardImpl(Pool2dSpec s, Tensor x, Tensor y) { put(Ref.pool(s, d(x), x.shape()), y); }

    @Override protected void pool2dBackwardImpl(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        put(Ref.poolBackward(s, d(x), x.shape(), d(dy)), dx);
    }

    @Override protected void activationForwardImpl(Activation f, Tensor x, Tensor y) {
        double[] v = d(x);
        for (int i = 0; i < v.length; i++) v[i] = Ref.act(f, v[i]);
        put(v, y);
    }

    @Override protected void activationBackwardImpl(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        double[] v = d(x), g = d(dy);
        for (int i = 0; i < v.length; i++) v[i] = Ref.actGrad(f, v[i]) * g[i];
        put(v, dx);
    }

    @Override protected void softmaxForwardImpl(Tensor x, Tensor y, boolean causal) {
        put(Ref.softmax(d(x), x.dim(-1), causal ? x.dim(-2) : 1, causal), y);
    }

    @Override protected void softmaxBackwardImpl(Tensor y, Tensor dy, Tensor dx) {
        put(Ref.softmaxBackward(d(y), d(dy), y.dim(-1)), dx);
    }

    static int[] labels(Tensor labels, int classes) {
        float[] f = data(labels);
        int[] l = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            l[i] = (int) f[i];
            if (l[i] != f[i] || l[i] < 0 || l[i] >= classes)
                throw new IllegalArgumentException("crossEntropy: labels[" + i + "] = " + f[i] + " is not a class index in [0, " + classes + ")");
        }
        return l;
    }

    @Override protected void crossEntropyForwardImpl(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing) {
        int c = logits.dim(1);
        int[] l = labels(labels, c);
        put(Ref.softmax(d(logits), c, 1, false), probs);
        data(loss)[0] = (float) Ref.crossEntropy(d(logits), l, c, smoothing);
    }

    @Override protected void crossEntropyBackwardImpl(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing) {
        int c = probs.dim(1), n = probs.dim(0);
        int[] l = labels(labels, c);
        double[] p = d(probs), g = new double[p.length];
        double dl = data(dloss)[0];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++) g[r * c + j] = dl * (p[r * c + j] - ((j == l[r] ? 1.0 - smoothing : 0) + (double) smoothing / c)) / n;
        put(g, dlogits);
    }

    @Override protected void layerNormForwardImpl(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, int dd) {
        double[][] r = Ref.layerNorm(d(x), d(gamma), d(beta), dd, eps);
        put(r[0], y); put(r[1], mean); put(r[2], rstd);
    }

    @Override protected void layerNormBackwardImpl(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                                   Tensor dx, Tensor dgamma, Tensor dbeta, int dd) {
        double[][] r = Ref.layerNormBackward(d(x), d(gamma), d(dy), d(mean), d(rstd), dd);
        put(r[0], dx); put(r[1], dgamma); put(r[2], dbeta);
    }

    @Override protected void attentionForwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal) {
        double[][] r = Ref.attention(d(q), d(k), d(v), q.dim(0) * q.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), scale, causal);
        put(r[0], out); put(r[1], lse);
    }

    @Override protected void attentionBackwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                                                   Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal) {
        double[][] r = Ref.attentionBackward(d(q), d(k), d(v), d(dout), q.dim(0) * q.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), scale, causal);
        put(r[0], dq); put(r[1], dk); put(r[2], dv);
    }

    @Override protected void binaryImpl(Binary kind, Tensor a, Tensor b, Tensor out) {
        double[] av = d(a), bv = d(b);
        for (int i = 0; i < av.length; i++) {
            double x = av[i], y = bv[i % bv.length];
            av[i] = switch (kind) {
                case ADD -> x + y;
                case MUL -> x * y;
                case DIV -> x / y;
            };
        }
        put(av, out);
    }

    @Override protected void scaleImpl(Tensor x, float alpha, Tensor out) {
        double[] v = d(x);
        for (int i = 0; i < v.length; i++) v[i] *= alpha;
        put(v, out);
    }

    @Override protected void axpyImpl(float alpha, Tensor x, Tensor y) {
        double[] xv = d(x), yv = d(y);
        for (int i = 0; i < yv.length; i++) yv[i] += alpha * xv[i];
        put(yv, y);
    }

    @Override protected void sumImpl(Tensor x, boolean[] reduce, Tensor out) {
        int[] xs = x.shape();
        double[] xv = d(x), o = new double[out.numel()];
        int[] idx = new int[xs.length];
        for (int i = 0; i < xv.length; i++) {
            int oi = 0;
            for (int a = 0; a < xs.length; a++) if (!reduce[a]) oi = oi * xs[a] + idx[a];
            o[oi] += xv[i];
            for (int a = xs.length - 1; a >= 0; a--) { if (++idx[a] < xs[a]) break; idx[a] = 0; }
        }
        put(o, out);
    }

    @Override protected void permuteImpl(Tensor x, Tensor out, int[] perm) {
        int[] xs = x.shape(), os = out.shape(), xStr = Shape.strides(xs);
        float[] xv = data(x), ov = data(out);
        int[] idx = new int[os.length];
        for (int i = 0; i < ov.length; i++) {
            int src = 0;
            for (int a = 0; a < os.length; a++) src += idx[a] * xStr[perm[a]];
            ov[i] = xv[src];
            for (int a = os.length - 1; a >= 0; a--) { if (++idx[a] < os[a]) break; idx[a] = 0; }
        }
    }

    /** Element-by-element copy between part and whole along an axis. */
    private static void sliceCopy(Tensor whole, Tensor part, int axis, int start, boolean toWhole) {
        int[] ps = part.shape(), wStr = Shape.strides(whole.shape());
        float[] wv = data(whole), pv = data(part);
        int[] idx = new int[ps.length];
        for (int i = 0; i < pv.length; i++) {
            int w = 0;
            for (int a = 0; a < ps.length; a++) w += (idx[a] + (a == axis ? start : 0)) * wStr[a];
            if (toWhole) wv[w] = pv[i]; else pv[i] = wv[w];
            for (int a = ps.length - 1; a >= 0; a--) { if (++idx[a] < ps[a]) break; idx[a] = 0; }
        }
    }

    @Override protected void sliceImpl(Tensor x, int axis, int start, Tensor out) { sliceCopy(x, out, axis, start, false); }
    @Override protected void insertSliceImpl(Tensor src, int axis, int start, Tensor dst) { sliceCopy(dst, src, axis, start, true); }

    private static int row(float[] idx, int i, int rows, String op) {
        int r = (int) idx[i];
        if (r != idx[i] || r < 0 || r >= rows) throw new IllegalArgumentException(op + ": idx[" + i + "] = " + idx[i] + " is not a row index in [0, " + rows + ")");
        return r;
    }

    @Override protected void gatherImpl(Tensor table, Tensor idx, Tensor out) {
        float[] t = data(table), ix = data(idx), o = data(out);
        int dd = table.dim(1);
        for (int i = 0; i < ix.length; i++) {
            int r = row(ix, i, table.dim(0), "gather");
            for (int j = 0; j < dd; j++) o[i * dd + j] = t[r * dd + j];
        }
    }

    @Override protected void scatterAddImpl(Tensor src, Tensor idx, Tensor table) {
        float[] s = data(src), ix = data(idx), t = data(table);
        int dd = table.dim(1);
        for (int i = 0; i < ix.length; i++) row(ix, i, table.dim(0), "scatterAdd");
        for (int i = 0; i < ix.length; i++) for (int j = 0; j < dd; j++) t[(int) ix[i] * dd + j] += s[i * dd + j];
    }

    @Override protected void sgdStepImpl(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float wd, boolean nesterov) {
        float[] p = data(param), g = data(grad), b = momentum == 0 ? null : data(velocity);
        for (int i = 0; i < p.length; i++) {
            double d = g[i] + (double) wd * p[i];
            if (momentum != 0) {
                double buf = momentum * (double) b[i] + d;
                b[i] = (float) buf;
                d = nesterov ? d + momentum * buf : buf;
            }
            p[i] = (float) (p[i] - lr * d);
        }
    }

    @Override protected void adamWStepImpl(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                                           float lr, float b1, float b2, float eps, float wd) {
        float[] p = data(param), g = data(grad), mv = data(m), vv = data(v);
        double c1 = 1 - Math.pow(b1, step), c2 = 1 - Math.pow(b2, step);
        for (int i = 0; i < p.length; i++) {
            double mi = b1 * (double) mv[i] + (1 - b1) * (double) g[i];
            double vi = b2 * (double) vv[i] + (1 - b2) * (double) g[i] * g[i];
            mv[i] = (float) mi;
            vv[i] = (float) vi;
            p[i] = (float) (p[i] * (1 - (double) lr * wd) - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps));
        }
    }
}
