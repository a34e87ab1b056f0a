package dev.fovea.cpu;

import java.util.Arrays;

/**
 * Fused scaled-dot-product attention for one (batch, head) slice at a time, in blocks of BQ queries: the block's
 * scores (BQ×S floats of scratch, never the whole T×S matrix) come from one GEMM, are turned into probabilities
 * row by row, and meet V in a second GEMM. The backward recomputes each block's probabilities from the saved
 * log-sum-exp, as FlashAttention does, and gets dV, dP, dQ and dK from four GEMMs.
 */
final class Attention {
    /** Queries per block. */
    static final int BQ = 64;

    private Attention() {}

    /** Visible keys for query t: all S, or t+1 under the top-left causal mask. */
    static int visible(int t, int s, boolean causal) { return causal ? Math.min(s, t + 1) : s; }

    /** Scratch floats one thread needs for a slice with S keys. */
    static int scratchSize(int s) { return 2 * BQ * Math.max(1, s); }

    /** scores[r, 0:cols] ← scale·q[t0+r]·k[0:cols]ᵀ for the block's rows. */
    private static void scores(float[] q, int qo, float[] k, int ko, int t0, int bq, int cols, int d, float scale, float[] sc) {
        Gemm.sgemm(Parallel.SEQUENTIAL, false, true, bq, cols, d, scale, q, qo + t0 * d, d, k, ko, d, 0f, sc, 0, cols);
    }

    /**
     * One (b,h) slice: q at qo [T, D], k at ko [S, D], v at vo [S, Dv], out at oo [T, Dv], lse at lo [T].
     */
    static void forward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                        int t, int s, int d, int dv, float scale, boolean causal, float[] scratch) {
        for (int t0 = 0; t0 < t; t0 += BQ) {
            int bq = Math.min(BQ, t - t0), cols = visible(t0 + bq - 1, s, causal);
            scores(q, qo, k, ko, t0, bq, cols, d, scale, scratch);
            for (int r = 0; r < bq; r++) {
                int n = visible(t0 + r, s, causal), row = r * cols;
                float m = RowOps.max(scratch, row, n);
                float l = RowOps.expShifted(scratch, row, scratch, row, n, m);
                Pointwise.scaleInPlace(scratch, row, n, 1f / l);
                Arrays.fill(scratch, row + n, row + cols, 0f);
                lse[lo + t0 + r] = m + (float) Math.log(l);
            }
            Gemm.sgemm(Parallel.SEQUENTIAL, false, false, bq, dv, cols, 1f, scratch, 0, cols, v, vo, dv, 0f, out, oo + t0 * dv, dv);
        }
    }

    /** One (b,h) slice of the backward; dq, dk, dv are overwritten. */
    static void backward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                         float[] dout, float[] dq, float[] dk, float[] dvv, int t, int s, int d, int dv, float scale,
                         boolean causal, float[] scratch) {
        Arrays.fill(dk, ko, ko + s * d, 0f);
        Arrays.fill(dvv, vo, vo + s * dv, 0f);
        int half = scratch.length / 2;
        for (int t0 = 0; t0 < t; t0 += BQ) {
            int bq = Math.min(BQ, t - t0), cols = visible(t0 + bq - 1, s, causal);
            // P, recomputed from the saved log-sum-exp
            scores(q, qo, k, ko, t0, bq, cols, d, scale, scratch);
            for (int r = 0; r < bq; r++) {
                int n = visible(t0 + r, s, causal), row = r * cols;
                float li = lse[lo + t0 + r];
                for (int j = 0; j < n; j++) scratch[row + j] = VMath.exp(scratch[row + j] - li);
                Arrays.fill(scratch, row + n, row + cols, 0f);
            }
            // dV += Pᵀ·dO; dP = dO·Vᵀ
            Gemm.sgemm(Parallel.SEQUENTIAL, true, false, cols, dv, bq, 1f, scratch, 0, cols, dout, oo + t0 * dv, dv, 1f, dvv, vo, dv);
            Gemm.sgemm(Parallel.SEQUENTIAL, false, true, bq, cols, dv, 1f, dout, oo + t0 * dv, dv, v, vo, dv, 0f, scratch, half, cols);
            // dS = P ⊙ (dP − rowsum(dO ⊙ O)), into P's place
            for (int r = 0; r < bq; r++) {
                int row = r * cols, oi = oo + (t0 + r) * dv;
                float di = Pointwise.dot(dout, oi, out, oi, dv);
                for (int j = 0; j < cols; j++) scratch[row + j] *= scratch[half + row + j] - di;
            }
            // dQ = scale·dS·K; dK += scale·dSᵀ·Q
            Gemm.sgemm(Parallel.SEQUENTIAL, false, false, bq, d, cols, scale, scratch, 0, cols, k, ko, d, 0f, dq, qo + t0 * d, d);
            Gemm.sgemm(Parallel.SEQUENTIAL, true, false, cols, d, bq, scale, scratch, 0, cols, q, qo + t0 * d, d, 1f, dk, ko, d);
        }
    }
}
