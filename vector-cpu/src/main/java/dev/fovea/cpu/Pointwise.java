package dev.fovea.cpu;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise kernels over ranges [from, to) of flat arrays: activations and their derivatives, broadcast
 * add/mul, scale, axpy and the fused optimizer steps. Each loop is a Vector API body plus a scalar tail that
 * computes the same expression.
 */
final class Pointwise {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float SQRT_HALF = (float) Math.sqrt(0.5);
    private static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));
    private static final float GELU_K = (float) Math.sqrt(2 / Math.PI);
    private static final float GELU_C = 0.044715f;

    private static final int GELU_BLOCK = 1024;

    private Pointwise() {}

    // Each activation's loops are a method of their own: in one big switch method the JIT ran out of inlining
    // budget for the vector math and boxed the vectors.

    static void forward(Activation f, float[] x, float[] y, int from, int to) {
        switch (f) {
            case RELU -> forwardRelu(x, y, from, to);
            case SIGMOID -> forwardSigmoid(x, y, from, to);
            case TANH -> forwardTanh(x, y, from, to);
            case GELU -> forwardGelu(x, y, from, to);
            case SCALED_TANH -> forwardScaledTanh(x, y, from, to);
            case GELU_TANH -> forwardGeluTanh(x, y, from, to);
        }
    }

    static void backward(Activation f, float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        switch (f) {
            case RELU -> backwardRelu(x, y, dy, dx, from, to);
            case SIGMOID -> backwardSigmoid(x, y, dy, dx, from, to);
            case TANH -> backwardTanh(x, y, dy, dx, from, to);
            case SCALED_TANH -> backwardScaledTanh(x, y, dy, dx, from, to);
            case GELU -> backwardGelu(x, y, dy, dx, from, to);
            case GELU_TANH -> backwardGeluTanh(x, y, dy, dx, from, to);
        }
    }

    private static void forwardRelu(float[] x, float[] y, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) FloatVector.fromArray(S, x, i).max(0f).intoArray(y, i);
        for (; i < to; i++) y[i] = Math.max(x[i], 0f);
    }

    private static void forwardSigmoid(float[] x, float[] y, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            VMath.sigmoid(v).intoArray(y, i);
        }
        for (; i < to; i++) y[i] = VMath.sigmoid(x[i]);
    }

    private static void forwardTanh(float[] x, float[] y, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) VMath.tanh(FloatVector.fromArray(S, x, i)).intoArray(y, i);
        for (; i < to; i++) y[i] = VMath.tanh(x[i]);
    }

    private static void forwardGelu(float[] x, float[] y, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            VMath.erf(v.mul(SQRT_HALF)).add(1f).mul(v).mul(0.5f).intoArray(y, i);
        }
        forwardGeluTail(x, y, i, to);
    }

    // the scalar tail in a method of its own keeps the vector loop's compiled method small: C2 stops inlining past
    // a node count, and a vector exp left as a call boxes its vectors
    private static void forwardGeluTail(float[] x, float[] y, int i, int to) {
        for (; i < to; i++) y[i] = 0.5f * x[i] * (1f + VMath.erf(x[i] * SQRT_HALF));
    }

    private static void forwardScaledTanh(float[] x, float[] y, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) VMath.tanh(FloatVector.fromArray(S, x, i).mul(Activation.LECUN_S)).mul(Activation.LECUN_A).intoArray(y, i);
        for (; i < to; i++) y[i] = VMath.tanh(x[i] * Activation.LECUN_S) * Activation.LECUN_A;
    }

    private static void forwardGeluTanh(float[] x, float[] y, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector in = v.mul(v).mul(v).mul(GELU_C).add(v).mul(GELU_K);
            VMath.tanh(in).add(1f).mul(v).mul(0.5f).intoArray(y, i);
        }
        for (; i < to; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1f + VMath.tanh((v * v * v * GELU_C + v) * GELU_K));
        }
    }

    private static void backwardRelu(float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, dy, i);
            g.blend(0f, FloatVector.fromArray(S, x, i).compare(VectorOperators.LE, 0f)).intoArray(dx, i);
        }
        for (; i < to; i++) dx[i] = x[i] > 0f ? dy[i] : 0f;
    }

    private static void backwardSigmoid(float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector s = FloatVector.fromArray(S, y, i);
            FloatVector.fromArray(S, dy, i).mul(s).mul(s.neg().add(1f)).intoArray(dx, i);
        }
        for (; i < to; i++) dx[i] = dy[i] * y[i] * (1f - y[i]);
    }

    private static void backwardTanh(float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector t = FloatVector.fromArray(S, y, i);
            FloatVector.fromArray(S, dy, i).mul(t.mul(t).neg().add(1f)).intoArray(dx, i);
        }
        for (; i < to; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
    }

    private static void backwardScaledTanh(float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        // y = A·tanh(S·x) ⇒ dy/dx = A·S·(1 − (y/A)²) = S·(A − y²/A)
        float ka = Activation.LECUN_A, ks = Activation.LECUN_S, inv = 1f / ka;
        for (; i < bound; i += S.length()) {
            FloatVector t = FloatVector.fromArray(S, y, i);
            FloatVector.fromArray(S, dy, i).mul(t.mul(t).mul(-inv).add(ka).mul(ks)).intoArray(dx, i);
        }
        for (; i < to; i++) dx[i] = dy[i] * ((y[i] * y[i] * -inv + ka) * ks);
    }

    private static void backwardGelu(float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        // d/dx x·Φ(x) = Φ(x) + x·φ(x): Φ into a block of scratch, then dy·(x·φ(x) + Φ), block by block (dx may be
        // dy). Two loops in two methods so that each compiled method holds one vector exp: with both in one, C2
        // stopped inlining the second (NodeCountInliningCutoff) and boxed its vectors (3x slower)
        float[] cdf = new float[Math.min(GELU_BLOCK, to - from)];
        for (int b = from; b < to; b += GELU_BLOCK) {
            int e = Math.min(to, b + GELU_BLOCK);
            geluCdf(x, b, e, cdf);
            geluGrad(x, dy, dx, b, e, cdf);
        }
    }

    /** cdf[0 : to−from] = Φ(x[from : to]). */
    private static void geluCdf(float[] x, int from, int to, float[] cdf) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length())
            VMath.erf(FloatVector.fromArray(S, x, i).mul(SQRT_HALF)).add(1f).mul(0.5f).intoArray(cdf, i - from);
        geluCdfTail(x, from, i, to, cdf);
    }

    private static void geluCdfTail(float[] x, int from, int i, int to, float[] cdf) {
        for (; i < to; i++) cdf[i - from] = (VMath.erf(x[i] * SQRT_HALF) + 1f) * 0.5f;
    }

    /** dx = dy·(x·φ(x) + Φ(x)) over [from, to), Φ from cdf. */
    private static void geluGrad(float[] x, float[] dy, float[] dx, int from, int to, float[] cdf) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector pdf = VMath.exp(v.mul(v).mul(-0.5f)).mul(INV_SQRT_2PI);
            FloatVector.fromArray(S, dy, i).mul(v.fma(pdf, FloatVector.fromArray(S, cdf, i - from))).intoArray(dx, i);
        }
        geluGradTail(x, dy, dx, from, i, to, cdf);
    }

    private static void geluGradTail(float[] x, float[] dy, float[] dx, int from, int i, int to, float[] cdf) {
        for (; i < to; i++) dx[i] = dy[i] * Math.fma(x[i], VMath.exp(x[i] * x[i] * -0.5f) * INV_SQRT_2PI, cdf[i - from]);
    }

    private static void backwardGeluTanh(float[] x, float[] y, float[] dy, float[] dx, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector v2 = v.mul(v);
            FloatVector t = VMath.tanh(v2.mul(v).mul(GELU_C).add(v).mul(GELU_K));
            FloatVector dInner = v2.mul(3 * GELU_C).add(1f).mul(GELU_K);
            FloatVector d = t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(t.mul(t).neg().add(1f)).mul(dInner));
            FloatVector.fromArray(S, dy, i).mul(d).intoArray(dx, i);
        }
        for (; i < to; i++) {
            float v = x[i], v2 = v * v;
            float t = VMath.tanh((v2 * v * GELU_C + v) * GELU_K);
            float dInner = GELU_K * (1f + 3 * GELU_C * v2);
            dx[i] = dy[i] * (0.5f * (1f + t) + 0.5f * v * (1f - t * t) * dInner);
        }
    }

    /** out[i] = a[i] + b[i mod nb] (or ·) for i in [from, to), where from is a multiple of nb. */
    /** out = a (op) b over [from, to), b of nb elements repeated (a bias broadcast over the leading axes). */
    static void binary(Backend.Binary kind, float[] a, float[] b, int nb, float[] out, int from, int to) {
        // one loop per op: vectors merged from the branches of a switch inside the loop could be boxed
        switch (kind) {
            case ADD -> add(a, b, nb, out, from, to);
            case MUL -> mul(a, b, nb, out, from, to);
            case DIV -> div(a, b, nb, out, from, to);
        }
    }

    private static void add(float[] a, float[] b, int nb, float[] out, int from, int to) {
        for (int base = from; base < to; base += nb) {
            int j = 0, bound = S.loopBound(nb);
            for (; j < bound; j += S.length()) FloatVector.fromArray(S, a, base + j).add(FloatVector.fromArray(S, b, j)).intoArray(out, base + j);
            for (; j < nb; j++) out[base + j] = a[base + j] + b[j];
        }
    }

    private static void mul(float[] a, float[] b, int nb, float[] out, int from, int to) {
        for (int base = from; base < to; base += nb) {
            int j = 0, bound = S.loopBound(nb);
            for (; j < bound; j += S.length()) FloatVector.fromArray(S, a, base + j).mul(FloatVector.fromArray(S, b, j)).intoArray(out, base + j);
            for (; j < nb; j++) out[base + j] = a[base + j] * b[j];
        }
    }

    private static void div(float[] a, float[] b, int nb, float[] out, int from, int to) {
        for (int base = from; base < to; base += nb) {
            int j = 0, bound = S.loopBound(nb);
            for (; j < bound; j += S.length()) FloatVector.fromArray(S, a, base + j).div(FloatVector.fromArray(S, b, j)).intoArray(out, base + j);
            for (; j < nb; j++) out[base + j] = a[base + j] / b[j];
        }
    }

    static void scale(float[] x, float alpha, float[] out, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) FloatVector.fromArray(S, x, i).mul(alpha).intoArray(out, i);
        for (; i < to; i++) out[i] = alpha * x[i];
    }

    static void sgd(float[] p, float[] g, float[] buf, float lr, float mu, float wd, boolean nesterov, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector d = FloatVector.fromArray(S, g, i);
            FloatVector w = FloatVector.fromArray(S, p, i);
            if (wd != 0f) d = w.fma(FloatVector.broadcast(S, wd), d);
            if (mu != 0f) {
                FloatVector b = FloatVector.fromArray(S, buf, i).fma(FloatVector.broadcast(S, mu), d);
                b.intoArray(buf, i);
                d = nesterov ? b.fma(FloatVector.broadcast(S, mu), d) : b;
            }
            d.fma(FloatVector.broadcast(S, -lr), w).intoArray(p, i);
        }
        for (; i < to; i++) {
            float d = g[i], w = p[i];
            if (wd != 0f) d = Math.fma(w, wd, d);
            if (mu != 0f) {
                float b = Math.fma(buf[i], mu, d);
                buf[i] = b;
                d = nesterov ? Math.fma(b, mu, d) : b;
            }
            p[i] = Math.fma(d, -lr, w);
        }
    }

    /** AdamW; c1 = 1/(1−β1^t), c2 = 1/(1−β2^t). */
    static void adamW(float[] p, float[] g, float[] m, float[] v, float lr, float b1, float b2, float eps, float wd,
                      float c1, float c2, int from, int to) {
        float decay = 1f - lr * wd;
        int i = from, bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector gv = FloatVector.fromArray(S, g, i);
            FloatVector mv = FloatVector.fromArray(S, m, i).mul(b1).add(gv.mul(1f - b1));
            FloatVector vv = FloatVector.fromArray(S, v, i).mul(b2).add(gv.mul(gv).mul(1f - b2));
            mv.intoArray(m, i);
            vv.intoArray(v, i);
            FloatVector den = vv.mul(c2).sqrt().add(eps);
            FloatVector.fromArray(S, p, i).mul(decay).sub(mv.mul(c1 * lr).div(den)).intoArray(p, i);
        }
        for (; i < to; i++) {
            float gi = g[i];
            float mi = m[i] * b1 + gi * (1f - b1);
            float vi = v[i] * b2 + gi * gi * (1f - b2);
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] * decay - mi * (c1 * lr) / ((float) Math.sqrt(vi * c2) + eps);
        }
    }

    /**
     * Σ x[from..to) with vector partial sums. The lane sum is {@link VMath#sumLanes}'s tree spelled out, with no call
     * that takes a vector: this runs right after a vector exp (softmax rows), whose IR is so large that C2 stops
     * inlining there, and a vector passed to a call that is not inlined is boxed.
     */
    static float sum(float[] x, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) acc = acc.add(FloatVector.fromArray(S, x, i));
        if (VMath.H8 != null) acc = acc.add(acc.rearrange(VMath.H8));
        if (VMath.H4 != null) acc = acc.add(acc.rearrange(VMath.H4));
        if (VMath.H2 != null) acc = acc.add(acc.rearrange(VMath.H2));
        if (VMath.H1 != null) acc = acc.add(acc.rearrange(VMath.H1));
        float s = acc.lane(0);
        for (; i < to; i++) s += x[i];
        return s;
    }

    /** Σ x[a+i]·y[b+i] for i in [0, n). */
    static float dot(float[] x, int a, float[] y, int b, int n) {
        int i = 0, bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) acc = FloatVector.fromArray(S, x, a + i).fma(FloatVector.fromArray(S, y, b + i), acc);
        float s = VMath.sumLanes(acc);
        for (; i < n; i++) s = Math.fma(x[a + i], y[b + i], s);
        return s;
    }

    /** y[b+i] += alpha·x[a+i] for i in [0, n). */
    static void axpy(float alpha, float[] x, int a, float[] y, int b, int n) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length())
            FloatVector.fromArray(S, x, a + i).fma(FloatVector.broadcast(S, alpha), FloatVector.fromArray(S, y, b + i)).intoArray(y, b + i);
        for (; i < n; i++) y[b + i] = Math.fma(alpha, x[a + i], y[b + i]);
    }

    /** y[b+i] *= alpha for i in [0, n). */
    static void scaleInPlace(float[] y, int b, int n, float alpha) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length()) FloatVector.fromArray(S, y, b + i).mul(alpha).intoArray(y, b + i);
        for (; i < n; i++) y[b + i] *= alpha;
    }
}
