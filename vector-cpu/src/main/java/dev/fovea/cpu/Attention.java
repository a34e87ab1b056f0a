package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Fused scaled-dot-product attention for one (batch, head) slice at a time. Long sequences go in blocks of BQ
 * queries: the block's scores (BQ×S floats of scratch, never the whole T×S matrix) come from one GEMM, are turned
 * into probabilities row by row, and meet V in a second GEMM. The backward recomputes each block's probabilities
 * from the saved log-sum-exp, as FlashAttention does, and gets dV, dP, dQ and dK from four GEMMs.
 *
 * <p>Short sequences (S ≤ {@link #ROWS_MAX_S}, a small ViT's 50 tokens) go one query row at a time instead: at
 * that size every GEMM above is a few hundred FLOPs and its packing and dispatch cost more than the arithmetic.
 * K (and for the backward V) is transposed once per slice into [D, SP] (SP = four vectors, zero-padded), so a row's scores are D vector FMAs per VL keys, and the rest are broadcasts against rows of V, K,
 * Q and dO.
 */
final class Attention {
    /** Queries per block. */
    static final int BQ = 64;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** The longest key sequence that takes the row-at-a-time kernels: four vectors (64 keys with AVX-512). */
    static final int ROWS_MAX_S = 4 * VL;
    /** Keys as the row kernels lay them out: every row of Kᵀ and Vᵀ, and of scores, is this long, zero-padded. */
    private static final int SP = ROWS_MAX_S;

    private Attention() {}

    /** Visible keys for query t: all S, or t+1 under the top-left causal mask. */
    static int visible(int t, int s, boolean causal) { return causal ? Math.min(s, t + 1) : s; }

    /** Scratch floats one thread needs for a slice of T queries, S keys, D-wide queries and keys, Dv-wide values. */
    static int scratchSize(int t, int s, int d, int dv) {
        return s <= ROWS_MAX_S ? (d + dv + 2 * t + 1) * SP : 2 * BQ * Math.max(1, s);
    }

    /** scores[r, 0:cols] ← scale·q[t0+r]·k[0:cols]ᵀ for the block's rows. */
    private static void scores(float[] q, int qo, float[] k, int ko, int t0, int bq, int cols, int d, float scale, float[] sc) {
        Gemm.sgemm(Parallel.SEQUENTIAL, false, true, bq, cols, d, scale, q, qo + t0 * d, d, k, ko, d, 0f, sc, 0, cols);
    }

    /**
     * One (b,h) slice: q at qo [T, D], k at ko [S, D], v at vo [S, Dv], out at oo [T, Dv], lse at lo [T].
     */
    static void forward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                        int t, int s, int d, int dv, float scale, boolean causal, float[] scratch) {
        if (s <= ROWS_MAX_S) {
            forwardRows(q, qo, k, ko, v, vo, out, oo, lse, lo, t, s, d, dv, scale, causal, scratch);
            return;
        }
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
        if (s <= ROWS_MAX_S) {
            backwardRows(q, qo, k, ko, v, vo, out, oo, lse, lo, dout, dq, dk, dvv, t, s, d, dv, scale, causal, scratch);
            return;
        }
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
                RowOps.expShifted(scratch, row, scratch, row, n, li);
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

    // ---------------------------------------------------------------- short sequences, a query row at a time

    /** dst[dOff + c·sp + j] = src[so + j·w + c] for j < s, zero for s ≤ j < sp: a [S, W] slice as [W, sp]. */
    private static void transpose(float[] src, int so, int s, int w, float[] dst, int dOff, int sp) {
        for (int c = 0; c < w; c++) {
            int row = dOff + c * sp;
            for (int j = 0; j < s; j++) dst[row + j] = src[so + j * w + c];
            Arrays.fill(dst, row + s, row + sp, 0f);
        }
    }

    /**
     * row[0:SP] = scale·Σ_c x[xo + c]·mt[mo + c·SP + 0:SP]: one query's scores against Kᵀ (or dO against Vᵀ). Four
     * independent accumulators: one would make a chain of dependent FMAs, bound by their latency.
     */
    private static void rowTimesT(float[] x, int xo, int w, float[] mt, int mo, float scale, float[] row, int ro) {
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        for (int c = 0, r = mo; c < w; c++, r += SP) {
            FloatVector xc = FloatVector.broadcast(S, x[xo + c]);
            a0 = xc.fma(FloatVector.fromArray(S, mt, r), a0);
            a1 = xc.fma(FloatVector.fromArray(S, mt, r + VL), a1);
            a2 = xc.fma(FloatVector.fromArray(S, mt, r + 2 * VL), a2);
            a3 = xc.fma(FloatVector.fromArray(S, mt, r + 3 * VL), a3);
        }
        a0.mul(scale).intoArray(row, ro);
        a1.mul(scale).intoArray(row, ro + VL);
        a2.mul(scale).intoArray(row, ro + 2 * VL);
        a3.mul(scale).intoArray(row, ro + 3 * VL);
    }

    /**
     * y[yo : yo+w] = alpha·Σ_{j<n} p[po + j·ps]·m[mo + j·w : +w]: a row of probabilities (or dS) times the rows of V
     * (or K), or a column of them (ps = SP) times the rows of dO (or Q); four partial sums over j (j mod 4) for the
     * same reason.
     */
    private static void rowTimes(float[] p, int po, int ps, int n, float[] m, int mo, int w, float alpha, float[] y, int yo) {
        int c = 0, bound = S.loopBound(w), n4 = n & ~3;
        for (; c < bound; c += VL) {
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
            int j = 0;
            for (int r = mo + c, pj = po; j < n4; j += 4, r += 4 * w, pj += 4 * ps) {
                a0 = FloatVector.broadcast(S, p[pj]).fma(FloatVector.fromArray(S, m, r), a0);
                a1 = FloatVector.broadcast(S, p[pj + ps]).fma(FloatVector.fromArray(S, m, r + w), a1);
                a2 = FloatVector.broadcast(S, p[pj + 2 * ps]).fma(FloatVector.fromArray(S, m, r + 2 * w), a2);
                a3 = FloatVector.broadcast(S, p[pj + 3 * ps]).fma(FloatVector.fromArray(S, m, r + 3 * w), a3);
            }
            for (; j < n; j++) a0 = FloatVector.broadcast(S, p[po + j * ps]).fma(FloatVector.fromArray(S, m, mo + j * w + c), a0);
            a0.add(a1).add(a2.add(a3)).mul(alpha).intoArray(y, yo + c);
        }
        for (; c < w; c++) {
            float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
            int j = 0;
            for (int r = mo + c, pj = po; j < n4; j += 4, r += 4 * w, pj += 4 * ps) {
                a0 = Math.fma(p[pj], m[r], a0);
                a1 = Math.fma(p[pj + ps], m[r + w], a1);
                a2 = Math.fma(p[pj + 2 * ps], m[r + 2 * w], a2);
                a3 = Math.fma(p[pj + 3 * ps], m[r + 3 * w], a3);
            }
            for (; j < n; j++) a0 = Math.fma(p[po + j * ps], m[mo + j * w + c], a0);
            y[yo + c] = (a0 + a1 + (a2 + a3)) * alpha;
        }
    }

    /** ds[0:SP] = p[0:SP]·(dp[0:SP] − di) (entries past the visible keys are garbage, cleared by the caller). */
    private static void softmaxGrad(float[] buf, int p, int dp, float di, int ds) {
        for (int j = 0; j < SP; j += VL) {
            FloatVector pv = FloatVector.fromArray(S, buf, p + j);
            pv.mul(FloatVector.fromArray(S, buf, dp + j).sub(di)).intoArray(buf, ds + j);
        }
    }

    private static void forwardRows(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                                    int t, int s, int d, int dv, float scale, boolean causal, float[] scratch) {
        int row = d * SP;                          // scratch: Kᵀ [D, SP], then one row of scores
        transpose(k, ko, s, d, scratch, 0, SP);
        for (int i = 0; i < t; i++) {
            int n = visible(i, s, causal);
            rowTimesT(q, qo + i * d, d, scratch, 0, scale, scratch, row);
            float m = RowOps.max(scratch, row, n);
            float l = RowOps.expShifted(scratch, row, scratch, row, n, m);
            rowTimes(scratch, row, 1, n, v, vo, dv, 1f / l, out, oo + i * dv);
            lse[lo + i] = m + (float) Math.log(l);
        }
    }

    private static void backwardRows(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                                     float[] dout, float[] dq, float[] dk, float[] dvv, int t, int s, int d, int dv, float scale,
                                     boolean causal, float[] scratch) {
        // scratch: Kᵀ [D, SP], Vᵀ [Dv, SP], P [T, SP], dS [T, SP], one row of dP
        int vt = d * SP, pm = vt + dv * SP, dsm = pm + t * SP, dpr = dsm + t * SP;
        transpose(k, ko, s, d, scratch, 0, SP);
        transpose(v, vo, s, dv, scratch, vt, SP);
        for (int i = 0; i < t; i++) {
            int n = visible(i, s, causal), qi = qo + i * d, oi = oo + i * dv, pr = pm + i * SP, dsr = dsm + i * SP;
            // P, recomputed from the saved log-sum-exp; dP = dO·Vᵀ; dS = P ⊙ (dP − dO·O)
            rowTimesT(q, qi, d, scratch, 0, scale, scratch, pr);
            RowOps.expShifted(scratch, pr, scratch, pr, n, lse[lo + i]);
            rowTimesT(dout, oi, dv, scratch, vt, 1f, scratch, dpr);
            softmaxGrad(scratch, pr, dpr, Pointwise.dot(dout, oi, out, oi, dv), dsr);
            // keys this query does not see (and the padding) take no gradient from it
            Arrays.fill(scratch, pr + n, pr + SP, 0f);
            Arrays.fill(scratch, dsr + n, dsr + SP, 0f);
            // dQ = scale·dS·K
            rowTimes(scratch, dsr, 1, n, k, ko, d, scale, dq, qi);
        }
        // dV = Pᵀ·dO and dK = scale·dSᵀ·Q, a key (a column of P and dS) at a time: no read-modify-write of dK, dV
        for (int j = 0; j < s; j++) {
            rowTimes(scratch, pm + j, SP, t, dout, oo, dv, 1f, dvv, vo + j * dv);
            rowTimes(scratch, dsm + j, SP, t, q, qo, d, scale, dk, ko + j * d);
        }
    }
}
