package dev.fovea.cpu;

import java.util.Arrays;

/**
 * Fused scaled-dot-product attention for one (batch, head) slice at a time. Scores are formed one query row at a
 * time (S floats of scratch), never as a T×S matrix; the backward recomputes them from the saved log-sum-exp,
 * as FlashAttention does.
 */
final class Attention {
    private Attention() {}

    /** Visible keys for query t: all S, or t+1 under the top-left causal mask. */
    static int visible(int t, int s, boolean causal) { return causal ? Math.min(s, t + 1) : s; }

    /**
     * One (b,h) slice: q at qo [T, D], k at ko [S, D], v at vo [S, Dv], out at oo [T, Dv], lse at lo [T].
     */
    static void forward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                        int t, int s, int d, int dv, float scale, boolean causal, float[] scores) {
        for (int i = 0; i < t; i++) {
            int n = visible(i, s, causal);
            int qi = qo + i * d, oi = oo + i * dv;
            for (int j = 0; j < n; j++) scores[j] = scale * Pointwise.dot(q, qi, k, ko + j * d, d);
            float m = RowOps.max(scores, 0, n);
            float l = RowOps.expShifted(scores, 0, scores, 0, n, m);
            Arrays.fill(out, oi, oi + dv, 0f);
            for (int j = 0; j < n; j++) Pointwise.axpy(scores[j], v, vo + j * dv, out, oi, dv);
            Pointwise.scaleInPlace(out, oi, dv, 1f / l);
            lse[lo + i] = m + (float) Math.log(l);
        }
    }

    /** One (b,h) slice of the backward; dq, dk, dv are overwritten. */
    static void backward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                         float[] dout, float[] dq, float[] dk, float[] dvv, int t, int s, int d, int dv, float scale,
                         boolean causal, float[] p) {
        Arrays.fill(dq, qo, qo + t * d, 0f);
        Arrays.fill(dk, ko, ko + s * d, 0f);
        Arrays.fill(dvv, vo, vo + s * dv, 0f);
        for (int i = 0; i < t; i++) {
            int n = visible(i, s, causal);
            int qi = qo + i * d, oi = oo + i * dv;
            float li = lse[lo + i];
            float di = Pointwise.dot(dout, oi, out, oi, dv);
            for (int j = 0; j < n; j++) {
                float pj = (float) Math.exp(scale * Pointwise.dot(q, qi, k, ko + j * d, d) - li);
                Pointwise.axpy(pj, dout, oi, dvv, vo + j * dv, dv);
                float dp = Pointwise.dot(dout, oi, v, vo + j * dv, dv);
                p[j] = pj * (dp - di) * scale; // dS scaled once for both dq and dk
            }
            for (int j = 0; j < n; j++) {
                Pointwise.axpy(p[j], k, ko + j * d, dq, qi, d);
                Pointwise.axpy(p[j], q, qi, dk, ko + j * d, d);
            }
        }
    }
}
