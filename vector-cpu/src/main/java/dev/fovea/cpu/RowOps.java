package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Kernels that work row by row over the last axis: softmax, log-softmax cross-entropy, layer norm. */
final class RowOps {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private RowOps() {}

    /** The largest of x[off, off+n); a NaN may be passed over (a softmax row holding one still comes out NaN). */
    static float max(float[] x, int off, int n) {
        int i = 0, bound = S.loopBound(n);
        float m = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            // compare and blend, not max: Java's max (NaN and −0 rules) is several dependent instructions a lane
            for (; i < bound; i += S.length()) {
                FloatVector v = FloatVector.fromArray(S, x, off + i);
                acc = acc.blend(v, acc.lt(v));
            }
            m = VMath.maxLanes(acc);
        }
        for (; i < n; i++) m = Math.max(m, x[off + i]);
        return m;
    }

    /**
     * y[j] = exp(x[j] − shift) for j in [0, n), shift at least the row's maximum (or its log-sum-exp), so that no
     * exp overflows; returns their sum. The exps and the sum are separate loops in separate
     * methods: a vector exp is so many IR nodes that, inlined next to it, the lane sum hit C2's inlining cutoff and
     * boxed its vector at every call.
     */
    static float expShifted(float[] x, int xo, float[] y, int yo, int n, float shift) {
        int i = 0, bound = S.loopBound(n);
        for (; i < bound; i += S.length()) VMath.expNoOverflow(FloatVector.fromArray(S, x, xo + i).sub(shift)).intoArray(y, yo + i);
        expShiftedTail(x, xo, y, yo, i, n, shift);
        return Pointwise.sum(y, yo, yo + n);
    }

    private static void expShiftedTail(float[] x, int xo, float[] y, int yo, int i, int n, float shift) {
        for (; i < n; i++) y[yo + i] = VMath.expNoOverflow(x[xo + i] - shift);
    }

    /** Softmax of rows [r0, r1) of length n; causal rows see columns ≤ (row mod t), the rest become 0. */
    static void softmax(float[] x, float[] y, int n, int t, boolean causal, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            int off = r * n;
            int len = causal ? Math.min(n, r % t + 1) : n;
            float m = max(x, off, len);
            float s = expShifted(x, off, y, off, len, m);
            Pointwise.scaleInPlace(y, off, len, 1f / s);
            for (int j = len; j < n; j++) y[off + j] = 0f;
        }
    }

    static void softmaxBackward(float[] y, float[] dy, float[] dx, int n, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            int off = r * n;
            float d = Pointwise.dot(dy, off, y, off, n);
            int i = 0, bound = S.loopBound(n);
            for (; i < bound; i += S.length()) {
                FloatVector yv = FloatVector.fromArray(S, y, off + i);
                FloatVector.fromArray(S, dy, off + i).sub(d).mul(yv).intoArray(dx, off + i);
            }
            for (; i < n; i++) dx[off + i] = (dy[off + i] - d) * y[off + i];
        }
    }

    /** Label of row r as an index, checked against the class count. */
    static int label(float[] labels, int r, int classes) {
        float v = labels[r];
        int c = (int) v;
        if (c != v || c < 0 || c >= classes)
            throw new IllegalArgumentException("crossEntropy: labels[" + r + "] = " + v + " is not a class index in [0, " + classes + ")");
        return c;
    }

    /**
     * Writes softmax rows into probs and returns Σ over rows [r0, r1) of −(1−ε)·log p[label] − (ε/C)·Σ log p,
     * in double (the caller divides by N).
     */
    static double crossEntropy(float[] logits, float[] labels, float[] probs, int c, float eps, int r0, int r1) {
        if (c < S.length()) return crossEntropyShortRows(logits, labels, probs, c, eps, r0, r1);
        double total = 0;
        for (int r = r0; r < r1; r++) {
            int off = r * c, lab = label(labels, r, c);
            float m = max(logits, off, c);
            float s = expShifted(logits, off, probs, off, c, m);
            double logZ = m + Math.log(s);
            Pointwise.scaleInPlace(probs, off, c, 1f / s);
            double nll = logZ - logits[off + lab];
            if (eps != 0f) {
                double meanLogit = Pointwise.sum(logits, off, off + c) / (double) c;
                nll = (1 - eps) * nll + eps * (logZ - meanLogit);
            }
            total += nll;
        }
        return total;
    }

    /**
     * Rows shorter than a vector (per-pixel losses over a few classes): shifted logits row by row, then one vector
     * exp over the whole block of rows (lanes would idle within a row), then the sums row by row.
     */
    static double crossEntropyShortRows(float[] logits, float[] labels, float[] probs, int c, float eps, int r0, int r1) {
        float[] max = new float[r1 - r0];
        for (int r = r0; r < r1; r++) {
            int off = r * c;
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) m = Math.max(m, logits[off + j]);
            for (int j = 0; j < c; j++) probs[off + j] = logits[off + j] - m;
            max[r - r0] = m;
        }
        int lo = r0 * c, hi = r1 * c, i = lo;
        for (int bound = lo + S.loopBound(hi - lo); i < bound; i += S.length())
            VMath.exp(FloatVector.fromArray(S, probs, i)).intoArray(probs, i);
        for (; i < hi; i++) probs[i] = VMath.exp(probs[i]);
        double total = 0;
        for (int r = r0; r < r1; r++) {
            int off = r * c, lab = label(labels, r, c);
            float s = 0;
            for (int j = 0; j < c; j++) s += probs[off + j];
            float inv = 1f / s;
            for (int j = 0; j < c; j++) probs[off + j] *= inv;
            double logZ = max[r - r0] + Math.log(s);
            double nll = logZ - logits[off + lab];
            if (eps != 0f) {
                double sum = 0;
                for (int j = 0; j < c; j++) sum += logits[off + j];
                nll = (1 - eps) * nll + eps * (logZ - sum / c);
            }
            total += nll;
        }
        return total;
    }

    static void crossEntropyBackward(float[] probs, float[] labels, float scale, float[] dl, int c, float eps, int r0, int r1) {
        float smooth = eps / c;
        for (int r = r0; r < r1; r++) {
            int off = r * c, lab = label(labels, r, c);
            int i = 0, bound = S.loopBound(c);
            for (; i < bound; i += S.length())
                FloatVector.fromArray(S, probs, off + i).sub(smooth).mul(scale).intoArray(dl, off + i);
            for (; i < c; i++) dl[off + i] = (probs[off + i] - smooth) * scale;
            dl[off + lab] -= (1f - eps) * scale;
        }
    }

    static void layerNorm(float[] x, float[] g, float[] b, float eps, float[] y, float[] mean, float[] rstd, int d, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            int off = r * d;
            float mu = Pointwise.sum(x, off, off + d) / d;
            int i = 0, bound = S.loopBound(d);
            FloatVector acc = FloatVector.zero(S);
            for (; i < bound; i += S.length()) {
                FloatVector c = FloatVector.fromArray(S, x, off + i).sub(mu);
                acc = c.fma(c, acc);
            }
            float var = VMath.sumLanes(acc);
            for (; i < d; i++) { float c = x[off + i] - mu; var += c * c; }
            float rs = (float) (1.0 / Math.sqrt(var / d + eps));
            mean[r] = mu;
            rstd[r] = rs;
            i = 0;
            for (; i < bound; i += S.length()) {
                FloatVector xh = FloatVector.fromArray(S, x, off + i).sub(mu).mul(rs);
                xh.fma(FloatVector.fromArray(S, g, i), FloatVector.fromArray(S, b, i)).intoArray(y, off + i);
            }
            for (; i < d; i++) y[off + i] = Math.fma((x[off + i] - mu) * rs, g[i], b[i]);
        }
    }

    /**
     * dx for rows [r0, r1), and this range's contributions to dgamma and dbeta accumulated into dg and db:
     * dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·gamma.
     */
    static void layerNormBackward(float[] dy, float[] x, float[] g, float[] mean, float[] rstd, float[] dx,
                                  float[] dg, float[] db, int d, int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            int off = r * d;
            float mu = mean[r], rs = rstd[r];
            float sumG = 0f, sumGX = 0f;
            int i = 0, bound = S.loopBound(d);
            FloatVector aG = FloatVector.zero(S), aGX = FloatVector.zero(S);
            for (; i < bound; i += S.length()) {
                FloatVector dyv = FloatVector.fromArray(S, dy, off + i);
                FloatVector xh = FloatVector.fromArray(S, x, off + i).sub(mu).mul(rs);
                FloatVector gh = dyv.mul(FloatVector.fromArray(S, g, i));
                aG = aG.add(gh);
                aGX = gh.fma(xh, aGX);
                dyv.fma(xh, FloatVector.fromArray(S, dg, i)).intoArray(dg, i);
                dyv.add(FloatVector.fromArray(S, db, i)).intoArray(db, i);
            }
            sumG = VMath.sumLanes(aG);
            sumGX = VMath.sumLanes(aGX);
            for (; i < d; i++) {
                float xh = (x[off + i] - mu) * rs, gh = dy[off + i] * g[i];
                sumG += gh;
                sumGX += gh * xh;
                dg[i] += dy[off + i] * xh;
                db[i] += dy[off + i];
            }
            float mG = sumG / d, mGX = sumGX / d;
            i = 0;
            for (; i < bound; i += S.length()) {
                FloatVector xh = FloatVector.fromArray(S, x, off + i).sub(mu).mul(rs);
                FloatVector gh = FloatVector.fromArray(S, dy, off + i).mul(FloatVector.fromArray(S, g, i));
                gh.sub(mG).sub(xh.mul(mGX)).mul(rs).intoArray(dx, off + i);
            }
            for (; i < d; i++) {
                float xh = (x[off + i] - mu) * rs, gh = dy[off + i] * g[i];
                dx[off + i] = (gh - mG - xh * mGX) * rs;
            }
        }
    }
}
