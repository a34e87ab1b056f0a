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
 * <p>Short sequences (S ≤ {@link #ROWS_MAX_S}, a small ViT's 50 tokens) take register-blocked kernels instead: at
 * that size every GEMM above is a few hundred FLOPs and its packing and dispatch cost more than the arithmetic.
 * K (and for the backward V) is transposed once per slice into [D, SP] (SP = four vectors, zero-padded), so two
 * queries' scores are 2·D broadcasts times four vectors of keys, each loaded once for both; the slice's whole P (and
 * dS) stays in scratch, and the products with V, K, Q and dO take eight rows (or eight keys) at a time, each row of
 * the other operand loaded once for all eight.
 *
 * <p>Sequences of a few hundred keys (S ≤ {@link #MEDIUM_MAX_S}: ViT-Ti/16's 197 tokens) take eight-row products in
 * the forward pass, in blocks of BQ queries: Kᵀ and V are laid out once per slice in panels two vectors wide
 * (zero-padded), and each block's scores, then its output, are eight rows times a panel per step, every panel vector
 * loaded once for the eight. The block's queries and P sit at a constant row stride, so that the kernels' indexing is
 * the loop counter plus invariants (see {@link #rowsByPanel}). P stays unnormalised; 1/l scales the output rows.
 * Through the GEMM, that size paid for packing and ragged edges (a 197-key row is 12 vectors and 5 floats; the last
 * block of 197 queries is 5 rows) at each of the slice's four blocks.
 */
final class Attention {
    /**
     * One slice's sizes and row strides: T queries, S keys, D-wide queries and keys, Dv-wide values and outputs;
     * rows of q and k (and dq, dk) lie ldqk floats apart, of v (and dv) ldv, of out (and dout) ldo. Dense [B,H,T,D]
     * tensors have strides D and Dv; a packed projection [B,T,3,H,D] has 3·H·D for q, k, v and H·D for out.
     */
    record Dims(int t, int s, int d, int dv, int ldqk, int ldv, int ldo) {
        static Dims dense(int t, int s, int d, int dv) { return new Dims(t, s, d, dv, d, dv, dv); }
    }

    /** Queries per block. */
    static final int BQ = 64;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** The longest key sequence that takes the short-sequence kernels: four vectors (64 keys with AVX-512). */
    static final int ROWS_MAX_S = 4 * VL;
    /** Keys as the short-sequence kernels lay them out: every row of Kᵀ, Vᵀ, P and dS is this long, zero-padded. */
    private static final int SP = ROWS_MAX_S;
    /** The longest key sequence whose forward takes the eight-row products in query blocks. */
    static final int MEDIUM_MAX_S = 256;

    private Attention() {}

    /** Visible keys for query t: all S, or t+1 under the top-left causal mask. */
    static int visible(int t, int s, boolean causal) { return causal ? Math.min(s, t + 1) : s; }

    /** Scratch floats one thread needs for a slice of T queries, S keys, D-wide queries and keys, Dv-wide values. */
    static int scratchSize(Dims m) {
        int t = m.t(), s = m.s(), d = m.d(), dv = m.dv();
        if (s <= ROWS_MAX_S) return (d + dv + 2 * rows8(t) + 2) * SP;
        int blocked = 2 * BQ * Math.max(1, s);
        return s <= MEDIUM_MAX_S && d <= LDA ? Math.max(blocked, d * padded(s) + s * padded(dv) + 2 * BQ * LDA + 8 + BQ + 8 + 8 * W) : blocked;
    }

    /** Keys rounded up to whole vectors: the row length of Kᵀ and P in the medium-sequence forward. */
    private static int padded(int s) { return (s + VL - 1) / VL * VL; }

    /** scores[r, 0:cols] ← scale·q[t0+r]·k[0:cols]ᵀ for the block's rows. */
    private static void scores(float[] q, int qo, float[] k, int ko, int t0, int bq, int cols, Dims m, float scale, float[] sc) {
        Gemm.sgemm(Parallel.SEQUENTIAL, false, true, bq, cols, m.d(), scale, q, qo + t0 * m.ldqk(), m.ldqk(), k, ko, m.ldqk(), 0f, sc, 0, cols);
    }

    /**
     * One (b,h) slice: q at qo [T, D], k at ko [S, D], v at vo [S, Dv], out at oo [T, Dv] (rows at m's strides), lse
     * at lo [T].
     */
    static void forward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                        Dims m, float scale, boolean causal, float[] scratch) {
        int t = m.t(), s = m.s(), dv = m.dv();
        if (s <= ROWS_MAX_S) {
            forwardRows(q, qo, k, ko, v, vo, out, oo, lse, lo, m, scale, causal, scratch);
            return;
        }
        if (s <= MEDIUM_MAX_S && m.d() <= LDA) {
            forwardMedium(q, qo, k, ko, v, vo, out, oo, lse, lo, m, scale, causal, scratch);
            return;
        }
        for (int t0 = 0; t0 < t; t0 += BQ) {
            int bq = Math.min(BQ, t - t0), cols = visible(t0 + bq - 1, s, causal);
            scores(q, qo, k, ko, t0, bq, cols, m, scale, scratch);
            for (int r = 0; r < bq; r++) {
                int n = visible(t0 + r, s, causal), row = r * cols;
                float mx = RowOps.max(scratch, row, n);
                float l = RowOps.expShifted(scratch, row, scratch, row, n, mx);
                Pointwise.scaleInPlace(scratch, row, n, 1f / l);
                Arrays.fill(scratch, row + n, row + cols, 0f);
                lse[lo + t0 + r] = mx + (float) Math.log(l);
            }
            Gemm.sgemm(Parallel.SEQUENTIAL, false, false, bq, dv, cols, 1f, scratch, 0, cols, v, vo, m.ldv(), 0f, out, oo + t0 * m.ldo(), m.ldo());
        }
    }

    /** One (b,h) slice of the backward; dq, dk, dv are overwritten. */
    static void backward(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                         float[] dout, float[] dq, float[] dk, float[] dvv, Dims m, float scale,
                         boolean causal, float[] scratch) {
        int t = m.t(), s = m.s(), d = m.d(), dv = m.dv(), ldqk = m.ldqk(), ldv = m.ldv(), ldo = m.ldo();
        if (s <= ROWS_MAX_S) {
            backwardRows(q, qo, k, ko, v, vo, out, oo, lse, lo, dout, dq, dk, dvv, m, scale, causal, scratch);
            return;
        }
        for (int j = 0; j < s; j++) {
            Arrays.fill(dk, ko + j * ldqk, ko + j * ldqk + d, 0f);
            Arrays.fill(dvv, vo + j * ldv, vo + j * ldv + dv, 0f);
        }
        int half = scratch.length / 2;
        for (int t0 = 0; t0 < t; t0 += BQ) {
            int bq = Math.min(BQ, t - t0), cols = visible(t0 + bq - 1, s, causal);
            // P, recomputed from the saved log-sum-exp
            scores(q, qo, k, ko, t0, bq, cols, m, scale, scratch);
            for (int r = 0; r < bq; r++) {
                int n = visible(t0 + r, s, causal), row = r * cols;
                float li = lse[lo + t0 + r];
                RowOps.expShifted(scratch, row, scratch, row, n, li);
                Arrays.fill(scratch, row + n, row + cols, 0f);
            }
            // dV += Pᵀ·dO; dP = dO·Vᵀ
            Gemm.sgemm(Parallel.SEQUENTIAL, true, false, cols, dv, bq, 1f, scratch, 0, cols, dout, oo + t0 * ldo, ldo, 1f, dvv, vo, ldv);
            Gemm.sgemm(Parallel.SEQUENTIAL, false, true, bq, cols, dv, 1f, dout, oo + t0 * ldo, ldo, v, vo, ldv, 0f, scratch, half, cols);
            // dS = P ⊙ (dP − rowsum(dO ⊙ O)), into P's place
            for (int r = 0; r < bq; r++) {
                int row = r * cols, oi = oo + (t0 + r) * ldo;
                float di = Pointwise.dot(dout, oi, out, oi, dv);
                for (int j = 0; j < cols; j++) scratch[row + j] *= scratch[half + row + j] - di;
            }
            // dQ = scale·dS·K; dK += scale·dSᵀ·Q
            Gemm.sgemm(Parallel.SEQUENTIAL, false, false, bq, d, cols, scale, scratch, 0, cols, k, ko, ldqk, 0f, dq, qo + t0 * ldqk, ldqk);
            Gemm.sgemm(Parallel.SEQUENTIAL, true, false, cols, d, bq, scale, scratch, 0, cols, q, qo + t0 * ldqk, ldqk, 1f, dk, ko, ldqk);
        }
    }

    // ---------------------------------------------------------------- short sequences: register-blocked kernels

    /**
     * dst[dOff + c·sp + j] = src[so + j·ld + c] for j < s, zero for s ≤ j < sp: a [S, W] slice (rows ld apart) as
     * [W, sp].
     */
    private static void transpose(float[] src, int so, int s, int w, int ld, float[] dst, int dOff, int sp) {
        // whole 16×16 blocks in registers, the ragged rows and columns one float at a time
        int s16 = VL == 16 ? s & ~15 : 0, w16 = VL == 16 ? w & ~15 : 0;
        for (int j = 0; j < s16; j += 16)
            for (int c = 0; c < w16; c += 16) Gemm.transpose16(src, so + j * ld + c, ld, dst, dOff + c * sp + j, sp);
        for (int c = 0; c < w; c++) {
            int row = dOff + c * sp;
            for (int j = c < w16 ? s16 : 0; j < s; j++) dst[row + j] = src[so + j * ld + c];
            Arrays.fill(dst, row + s, row + sp, 0f);
        }
    }

    /**
     * row[r0:r0+SP] = scale·Σ_c x[x0 + c]·mt[mo + c·SP + 0:SP], and row[r1..] the same for x1: two queries' scores
     * against Kᵀ (or two rows of dO against Vᵀ). Each row of mt is loaded once for both, and the eight accumulators
     * keep enough FMAs in flight (four, for one query, would wait on their latency). x1 = x0, r1 = r0 for a lone row.
     */
    private static void rowsTimesT(float[] x, int x0, int x1, int w, float[] mt, int mo, float scale, float[] row, int r0, int r1) {
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        FloatVector b0 = FloatVector.zero(S), b1 = FloatVector.zero(S), b2 = FloatVector.zero(S), b3 = FloatVector.zero(S);
        for (int c = 0, r = mo; c < w; c++, r += SP) {
            FloatVector m0 = FloatVector.fromArray(S, mt, r), m1 = FloatVector.fromArray(S, mt, r + VL);
            FloatVector m2 = FloatVector.fromArray(S, mt, r + 2 * VL), m3 = FloatVector.fromArray(S, mt, r + 3 * VL);
            FloatVector xa = FloatVector.broadcast(S, x[x0 + c]), xb = FloatVector.broadcast(S, x[x1 + c]);
            a0 = xa.fma(m0, a0); a1 = xa.fma(m1, a1); a2 = xa.fma(m2, a2); a3 = xa.fma(m3, a3);
            b0 = xb.fma(m0, b0); b1 = xb.fma(m1, b1); b2 = xb.fma(m2, b2); b3 = xb.fma(m3, b3);
        }
        a0.mul(scale).intoArray(row, r0); a1.mul(scale).intoArray(row, r0 + VL);
        a2.mul(scale).intoArray(row, r0 + 2 * VL); a3.mul(scale).intoArray(row, r0 + 3 * VL);
        b0.mul(scale).intoArray(row, r1); b1.mul(scale).intoArray(row, r1 + VL);
        b2.mul(scale).intoArray(row, r1 + 2 * VL); b3.mul(scale).intoArray(row, r1 + 3 * VL);
    }

    /**
     * y[yo + k·ldy : +w] = alpha·Σ_{i<len} pm[pb + i·si + k·sk]·m[mo + i·ldm : +w] for k < nk (≤ 8): eight rows of P (or
     * dS; si = 1, sk = SP) times V (or K), which is eight rows of the output (or dQ); or eight of their columns (si = SP,
     * sk = 1) times dO (or Q), which is dV (or dK) for eight keys. Each row of m is loaded once for all eight, and
     * eight accumulators keep the FMAs independent. All eight are computed (pm must hold them: padding) and nk stored.
     */
    private static void blockTimes(float[] pm, int pb, int si, int sk, int len, int nk, float[] m, int mo, int ldm, int w,
                                   float alpha, float[] y, int yo, int ldy) {
        int c = 0, bound = S.loopBound(w);
        // two vectors of m at a time: sixteen accumulators, 10 loads to 16 FMAs (one vector: 9 to 8, load-bound)
        for (; c + 2 * VL <= bound; c += 2 * VL) {
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
            FloatVector a4 = FloatVector.zero(S), a5 = FloatVector.zero(S), a6 = FloatVector.zero(S), a7 = FloatVector.zero(S);
            FloatVector b0 = FloatVector.zero(S), b1 = FloatVector.zero(S), b2 = FloatVector.zero(S), b3 = FloatVector.zero(S);
            FloatVector b4 = FloatVector.zero(S), b5 = FloatVector.zero(S), b6 = FloatVector.zero(S), b7 = FloatVector.zero(S);
            for (int i = 0, pr = pb, r = mo + c; i < len; i++, pr += si, r += ldm) {
                FloatVector mv = FloatVector.fromArray(S, m, r), mw = FloatVector.fromArray(S, m, r + VL);
                FloatVector x0 = FloatVector.broadcast(S, pm[pr]), x1 = FloatVector.broadcast(S, pm[pr + sk]);
                a0 = x0.fma(mv, a0); b0 = x0.fma(mw, b0);
                a1 = x1.fma(mv, a1); b1 = x1.fma(mw, b1);
                FloatVector x2 = FloatVector.broadcast(S, pm[pr + 2 * sk]), x3 = FloatVector.broadcast(S, pm[pr + 3 * sk]);
                a2 = x2.fma(mv, a2); b2 = x2.fma(mw, b2);
                a3 = x3.fma(mv, a3); b3 = x3.fma(mw, b3);
                FloatVector x4 = FloatVector.broadcast(S, pm[pr + 4 * sk]), x5 = FloatVector.broadcast(S, pm[pr + 5 * sk]);
                a4 = x4.fma(mv, a4); b4 = x4.fma(mw, b4);
                a5 = x5.fma(mv, a5); b5 = x5.fma(mw, b5);
                FloatVector x6 = FloatVector.broadcast(S, pm[pr + 6 * sk]), x7 = FloatVector.broadcast(S, pm[pr + 7 * sk]);
                a6 = x6.fma(mv, a6); b6 = x6.fma(mw, b6);
                a7 = x7.fma(mv, a7); b7 = x7.fma(mw, b7);
            }
            int o = yo + c;
            a0.mul(alpha).intoArray(y, o); b0.mul(alpha).intoArray(y, o + VL);
            if (nk > 1) { a1.mul(alpha).intoArray(y, o + ldy); b1.mul(alpha).intoArray(y, o + ldy + VL); }
            if (nk > 2) { a2.mul(alpha).intoArray(y, o + 2 * ldy); b2.mul(alpha).intoArray(y, o + 2 * ldy + VL); }
            if (nk > 3) { a3.mul(alpha).intoArray(y, o + 3 * ldy); b3.mul(alpha).intoArray(y, o + 3 * ldy + VL); }
            if (nk > 4) { a4.mul(alpha).intoArray(y, o + 4 * ldy); b4.mul(alpha).intoArray(y, o + 4 * ldy + VL); }
            if (nk > 5) { a5.mul(alpha).intoArray(y, o + 5 * ldy); b5.mul(alpha).intoArray(y, o + 5 * ldy + VL); }
            if (nk > 6) { a6.mul(alpha).intoArray(y, o + 6 * ldy); b6.mul(alpha).intoArray(y, o + 6 * ldy + VL); }
            if (nk > 7) { a7.mul(alpha).intoArray(y, o + 7 * ldy); b7.mul(alpha).intoArray(y, o + 7 * ldy + VL); }
        }
        for (; c < bound; c += VL) {
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
            FloatVector a4 = FloatVector.zero(S), a5 = FloatVector.zero(S), a6 = FloatVector.zero(S), a7 = FloatVector.zero(S);
            for (int i = 0, pr = pb, r = mo + c; i < len; i++, pr += si, r += ldm) {
                FloatVector mv = FloatVector.fromArray(S, m, r);
                a0 = FloatVector.broadcast(S, pm[pr]).fma(mv, a0);
                a1 = FloatVector.broadcast(S, pm[pr + sk]).fma(mv, a1);
                a2 = FloatVector.broadcast(S, pm[pr + 2 * sk]).fma(mv, a2);
                a3 = FloatVector.broadcast(S, pm[pr + 3 * sk]).fma(mv, a3);
                a4 = FloatVector.broadcast(S, pm[pr + 4 * sk]).fma(mv, a4);
                a5 = FloatVector.broadcast(S, pm[pr + 5 * sk]).fma(mv, a5);
                a6 = FloatVector.broadcast(S, pm[pr + 6 * sk]).fma(mv, a6);
                a7 = FloatVector.broadcast(S, pm[pr + 7 * sk]).fma(mv, a7);
            }
            int o = yo + c;
            a0.mul(alpha).intoArray(y, o);
            if (nk > 1) a1.mul(alpha).intoArray(y, o + ldy);
            if (nk > 2) a2.mul(alpha).intoArray(y, o + 2 * ldy);
            if (nk > 3) a3.mul(alpha).intoArray(y, o + 3 * ldy);
            if (nk > 4) a4.mul(alpha).intoArray(y, o + 4 * ldy);
            if (nk > 5) a5.mul(alpha).intoArray(y, o + 5 * ldy);
            if (nk > 6) a6.mul(alpha).intoArray(y, o + 6 * ldy);
            if (nk > 7) a7.mul(alpha).intoArray(y, o + 7 * ldy);
        }
        for (; c < w; c++)
            for (int k = 0; k < nk; k++) {
                float acc = 0f;
                for (int i = 0; i < len; i++) acc = Math.fma(pm[pb + i * si + k * sk], m[mo + i * ldm + c], acc);
                y[yo + k * ldy + c] = acc * alpha;
            }
    }

    /** ds[0:SP] = p[0:SP]·(dp[0:SP] − di): 0 where p is (hidden keys, padding), as dp is finite there. */
    private static void softmaxGrad(float[] buf, int p, int dp, float di, int ds) {
        for (int j = 0; j < SP; j += VL) {
            FloatVector pv = FloatVector.fromArray(S, buf, p + j);
            pv.mul(FloatVector.fromArray(S, buf, dp + j).sub(di)).intoArray(buf, ds + j);
        }
    }

    /**
     * Queries i0 and i1's SP scores against Kᵀ (at scratch[0]) into their rows of P (at scratch[pm], SP apart), -inf for
     * the keys past those each sees.
     */
    private static void scoresRows(float[] q, int qo, int i0, int i1, Dims m, float[] scratch, float scale, boolean causal, int pm) {
        int p0 = pm + i0 * SP, p1 = pm + i1 * SP;
        rowsTimesT(q, qo + i0 * m.ldqk(), qo + i1 * m.ldqk(), m.d(), scratch, 0, scale, scratch, p0, p1);
        Arrays.fill(scratch, p0 + visible(i0, m.s(), causal), p0 + SP, Float.NEGATIVE_INFINITY);
        Arrays.fill(scratch, p1 + visible(i1, m.s(), causal), p1 + SP, Float.NEGATIVE_INFINITY);
    }

    /** Query rows padded to a multiple of 8 for {@link #blockTimes}. */
    private static int rows8(int t) { return (t + 7) & ~7; }

    private static void forwardRows(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                                    Dims m, float scale, boolean causal, float[] scratch) {
        int t = m.t(), s = m.s(), d = m.d(), dv = m.dv();
        int pm = d * SP;                           // scratch: Kᵀ [D, SP], then P [T, SP]
        transpose(k, ko, s, d, m.ldqk(), scratch, 0, SP);
        for (int i0 = 0; i0 < t; i0 += 2) {
            int i1 = Math.min(i0 + 1, t - 1);
            scoresRows(q, qo, i0, i1, m, scratch, scale, causal, pm);
            for (int i = i0; i <= i1; i++) {
                int pr = pm + i * SP;
                // whole padded rows, no scalar tails: the hidden keys' -inf give exactly 0
                float mx = RowOps.max(scratch, pr, SP);
                float l = RowOps.expShifted(scratch, pr, scratch, pr, SP, mx);
                Pointwise.scaleInPlace(scratch, pr, SP, 1f / l);
                lse[lo + i] = mx + (float) Math.log(l);
            }
        }
        // out = P·V, eight query rows at a time
        for (int i = 0; i < t; i += 8)
            blockTimes(scratch, pm + i * SP, 1, SP, s, Math.min(8, t - i), v, vo, m.ldv(), dv, 1f, out, oo + i * m.ldo(), m.ldo());
    }

    /** Keys (and value columns) in a panel of the medium-sequence forward: two vectors. */
    private static final int W = 2 * VL;
    /** Row stride of the medium forward's query block and P: a constant, so that the kernels address rows by displacement. */
    private static final int LDA = MEDIUM_MAX_S;

    /** Width of the panel of n keys (or value columns) starting at j0: W, or one vector for at most VL left. */
    private static int panelWidth(int n, int j0) { return n - j0 > VL ? W : VL; }

    /** The forward of one slice for ROWS_MAX_S < S ≤ MEDIUM_MAX_S and D ≤ LDA (the class comment). */
    private static void forwardMedium(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                                      Dims m, float scale, boolean causal, float[] scratch) {
        int t = m.t(), s = m.s(), d = m.d(), dv = m.dv(), sp = padded(s), dvp = padded(dv);
        // scratch: Kᵀ in panels [S/W][D][W] (zero keys up to sp), V in panels [Dv/W][S][W] (zero columns up to dvp),
        // the block's queries [BQ][LDA], its P [BQ][LDA], a row of `scale`s, the block's 1/l, a tile for ragged Dv
        int vp = d * sp, qb = vp + s * dvp, pb = qb + BQ * LDA, sc = pb + BQ * LDA, inv = sc + 8, tile = inv + BQ + 8;
        for (int j0 = 0; j0 < s; j0 += W) {
            int pw = panelWidth(s, j0);
            transpose(k, ko + j0 * m.ldqk(), Math.min(pw, s - j0), d, m.ldqk(), scratch, j0 * d, pw);
        }
        for (int c0 = 0; c0 < dv; c0 += W) {
            int pw = panelWidth(dv, c0), w = Math.min(pw, dv - c0);
            for (int i = 0, dst = vp + c0 * s; i < s; i++, dst += pw) {
                System.arraycopy(v, vo + i * m.ldv() + c0, scratch, dst, w);
                if (w < pw) Arrays.fill(scratch, dst + w, dst + pw, 0f);
            }
        }
        Arrays.fill(scratch, sc, sc + 8, scale);
        for (int t0 = 0; t0 < t; t0 += BQ) {
            int bq = Math.min(BQ, t - t0), rows = rows8(bq);
            // the block's queries, zero rows up to a multiple of 8: the kernels compute eight rows at a time
            for (int r = 0; r < bq; r++) System.arraycopy(q, qo + (t0 + r) * m.ldqk(), scratch, qb + r * LDA, d);
            for (int r = bq; r < rows; r++) Arrays.fill(scratch, qb + r * LDA, qb + r * LDA + d, 0f);
            // scores, a panel of keys at a time (it stays in L1 while the block's row groups pass)
            for (int j0 = 0; j0 < s; j0 += W)
                for (int r = 0; r < rows; r += 8) {
                    if (panelWidth(s, j0) == W) rowsByPanel(scratch, qb + r * LDA, d, scratch, j0 * d, scratch, sc, scratch, pb + r * LDA + j0, LDA, 8);
                    else rowsByPanelV(scratch, qb + r * LDA, d, scratch, j0 * d, scratch, sc, scratch, pb + r * LDA + j0, LDA, 8);
                }
            // exp(score − max), unnormalised: 1/l scales the output rows instead
            for (int r = 0; r < bq; r++) {
                int pr = pb + r * LDA;
                Arrays.fill(scratch, pr + visible(t0 + r, s, causal), pr + sp, Float.NEGATIVE_INFINITY);
                float mx = RowOps.max(scratch, pr, sp);
                float l = RowOps.expShifted(scratch, pr, scratch, pr, sp, mx);
                scratch[inv + r] = 1f / l;
                lse[lo + t0 + r] = mx + (float) Math.log(l);
            }
            // out = P·V / l, a panel of V at a time (rows past bq hold the zero queries' scores, 0: read, never stored)
            for (int c0 = 0; c0 < dv; c0 += W) {
                int pw = panelWidth(dv, c0), w = Math.min(pw, dv - c0), panel = vp + c0 * s;
                for (int r = 0; r < bq; r += 8) {
                    int nk = Math.min(8, bq - r), y = oo + (t0 + r) * m.ldo() + c0;
                    if (w < pw) {
                        // a ragged last panel: whole vectors into the tile, the w real columns out of it
                        if (pw == W) rowsByPanel(scratch, pb + r * LDA, s, scratch, panel, scratch, inv + r, scratch, tile, W, nk);
                        else rowsByPanelV(scratch, pb + r * LDA, s, scratch, panel, scratch, inv + r, scratch, tile, W, nk);
                        for (int i = 0; i < nk; i++) System.arraycopy(scratch, tile + i * W, out, y + i * m.ldo(), w);
                    } else if (pw == W) rowsByPanel(scratch, pb + r * LDA, s, scratch, panel, scratch, inv + r, out, y, m.ldo(), nk);
                    else rowsByPanelV(scratch, pb + r * LDA, s, scratch, panel, scratch, inv + r, out, y, m.ldo(), nk);
                }
            }
        }
    }

    /**
     * y[yo + k·ldy : +W] = rs[ro + k]·Σ_{i<len} a[ao + k·LDA + i]·b[bo + i·W : +W] for k < 8, nk rows stored: eight
     * rows of A (queries, or P) times a panel of B laid out W floats a row (Kᵀ, or V). Every index is the loop
     * counter plus an invariant, or times a constant, so C2 hoists the range checks out of the loop and reaches the
     * eight rows by displacements; with strides as arguments ({@link #blockTimes}) the checks and the address
     * arithmetic stay in the loop beside the 16 FMAs.
     */
    private static void rowsByPanel(float[] a, int ao, int len, float[] b, int bo, float[] rs, int ro, float[] y, int yo, int ldy, int nk) {
        int r0 = ao, r1 = ao + LDA, r2 = ao + 2 * LDA, r3 = ao + 3 * LDA, r4 = ao + 4 * LDA, r5 = ao + 5 * LDA, r6 = ao + 6 * LDA, r7 = ao + 7 * LDA;
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        FloatVector a4 = FloatVector.zero(S), a5 = FloatVector.zero(S), a6 = FloatVector.zero(S), a7 = FloatVector.zero(S);
        FloatVector b0 = FloatVector.zero(S), b1 = FloatVector.zero(S), b2 = FloatVector.zero(S), b3 = FloatVector.zero(S);
        FloatVector b4 = FloatVector.zero(S), b5 = FloatVector.zero(S), b6 = FloatVector.zero(S), b7 = FloatVector.zero(S);
        for (int i = 0; i < len; i++) {
            FloatVector mv = FloatVector.fromArray(S, b, bo + i * W), mw = FloatVector.fromArray(S, b, bo + i * W + VL);
            FloatVector x0 = FloatVector.broadcast(S, a[r0 + i]), x1 = FloatVector.broadcast(S, a[r1 + i]);
            a0 = x0.fma(mv, a0); b0 = x0.fma(mw, b0);
            a1 = x1.fma(mv, a1); b1 = x1.fma(mw, b1);
            FloatVector x2 = FloatVector.broadcast(S, a[r2 + i]), x3 = FloatVector.broadcast(S, a[r3 + i]);
            a2 = x2.fma(mv, a2); b2 = x2.fma(mw, b2);
            a3 = x3.fma(mv, a3); b3 = x3.fma(mw, b3);
            FloatVector x4 = FloatVector.broadcast(S, a[r4 + i]), x5 = FloatVector.broadcast(S, a[r5 + i]);
            a4 = x4.fma(mv, a4); b4 = x4.fma(mw, b4);
            a5 = x5.fma(mv, a5); b5 = x5.fma(mw, b5);
            FloatVector x6 = FloatVector.broadcast(S, a[r6 + i]), x7 = FloatVector.broadcast(S, a[r7 + i]);
            a6 = x6.fma(mv, a6); b6 = x6.fma(mw, b6);
            a7 = x7.fma(mv, a7); b7 = x7.fma(mw, b7);
        }
        a0.mul(rs[ro]).intoArray(y, yo); b0.mul(rs[ro]).intoArray(y, yo + VL);
        if (nk > 1) { a1.mul(rs[ro + 1]).intoArray(y, yo + ldy); b1.mul(rs[ro + 1]).intoArray(y, yo + ldy + VL); }
        if (nk > 2) { a2.mul(rs[ro + 2]).intoArray(y, yo + 2 * ldy); b2.mul(rs[ro + 2]).intoArray(y, yo + 2 * ldy + VL); }
        if (nk > 3) { a3.mul(rs[ro + 3]).intoArray(y, yo + 3 * ldy); b3.mul(rs[ro + 3]).intoArray(y, yo + 3 * ldy + VL); }
        if (nk > 4) { a4.mul(rs[ro + 4]).intoArray(y, yo + 4 * ldy); b4.mul(rs[ro + 4]).intoArray(y, yo + 4 * ldy + VL); }
        if (nk > 5) { a5.mul(rs[ro + 5]).intoArray(y, yo + 5 * ldy); b5.mul(rs[ro + 5]).intoArray(y, yo + 5 * ldy + VL); }
        if (nk > 6) { a6.mul(rs[ro + 6]).intoArray(y, yo + 6 * ldy); b6.mul(rs[ro + 6]).intoArray(y, yo + 6 * ldy + VL); }
        if (nk > 7) { a7.mul(rs[ro + 7]).intoArray(y, yo + 7 * ldy); b7.mul(rs[ro + 7]).intoArray(y, yo + 7 * ldy + VL); }
    }

    /** {@link #rowsByPanel} for a one-vector panel: b[bo + i·VL : +VL]. */
    private static void rowsByPanelV(float[] a, int ao, int len, float[] b, int bo, float[] rs, int ro, float[] y, int yo, int ldy, int nk) {
        int r0 = ao, r1 = ao + LDA, r2 = ao + 2 * LDA, r3 = ao + 3 * LDA, r4 = ao + 4 * LDA, r5 = ao + 5 * LDA, r6 = ao + 6 * LDA, r7 = ao + 7 * LDA;
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        FloatVector a4 = FloatVector.zero(S), a5 = FloatVector.zero(S), a6 = FloatVector.zero(S), a7 = FloatVector.zero(S);
        for (int i = 0; i < len; i++) {
            FloatVector mv = FloatVector.fromArray(S, b, bo + i * VL);
            a0 = FloatVector.broadcast(S, a[r0 + i]).fma(mv, a0);
            a1 = FloatVector.broadcast(S, a[r1 + i]).fma(mv, a1);
            a2 = FloatVector.broadcast(S, a[r2 + i]).fma(mv, a2);
            a3 = FloatVector.broadcast(S, a[r3 + i]).fma(mv, a3);
            a4 = FloatVector.broadcast(S, a[r4 + i]).fma(mv, a4);
            a5 = FloatVector.broadcast(S, a[r5 + i]).fma(mv, a5);
            a6 = FloatVector.broadcast(S, a[r6 + i]).fma(mv, a6);
            a7 = FloatVector.broadcast(S, a[r7 + i]).fma(mv, a7);
        }
        a0.mul(rs[ro]).intoArray(y, yo);
        if (nk > 1) a1.mul(rs[ro + 1]).intoArray(y, yo + ldy);
        if (nk > 2) a2.mul(rs[ro + 2]).intoArray(y, yo + 2 * ldy);
        if (nk > 3) a3.mul(rs[ro + 3]).intoArray(y, yo + 3 * ldy);
        if (nk > 4) a4.mul(rs[ro + 4]).intoArray(y, yo + 4 * ldy);
        if (nk > 5) a5.mul(rs[ro + 5]).intoArray(y, yo + 5 * ldy);
        if (nk > 6) a6.mul(rs[ro + 6]).intoArray(y, yo + 6 * ldy);
        if (nk > 7) a7.mul(rs[ro + 7]).intoArray(y, yo + 7 * ldy);
    }

    private static void backwardRows(float[] q, int qo, float[] k, int ko, float[] v, int vo, float[] out, int oo, float[] lse, int lo,
                                     float[] dout, float[] dq, float[] dk, float[] dvv, Dims m, float scale,
                                     boolean causal, float[] scratch) {
        int t = m.t(), s = m.s(), d = m.d(), dv = m.dv(), ldqk = m.ldqk(), ldv = m.ldv(), ldo = m.ldo();
        // scratch: Kᵀ [D, SP], Vᵀ [Dv, SP], P and dS [T rounded up to 8, SP], two rows of dP
        int vt = d * SP, pm = vt + dv * SP, dsm = pm + rows8(t) * SP, dpr = dsm + rows8(t) * SP;
        transpose(k, ko, s, d, ldqk, scratch, 0, SP);
        transpose(v, vo, s, dv, ldv, scratch, vt, SP);
        for (int i0 = 0; i0 < t; i0 += 2) {
            int i1 = Math.min(i0 + 1, t - 1);
            // P, recomputed from the saved log-sum-exp (0 for hidden keys and padding); dP = dO·Vᵀ; dS = P ⊙ (dP − dO·O)
            scoresRows(q, qo, i0, i1, m, scratch, scale, causal, pm);
            rowsTimesT(dout, oo + i0 * ldo, oo + i1 * ldo, dv, scratch, vt, 1f, scratch, dpr, dpr + (i1 - i0) * SP);
            for (int i = i0; i <= i1; i++) {
                int oi = oo + i * ldo, pr = pm + i * SP;
                RowOps.expShifted(scratch, pr, scratch, pr, SP, lse[lo + i]);
                softmaxGrad(scratch, pr, dpr + (i - i0) * SP, Pointwise.dot(dout, oi, out, oi, dv), dsm + i * SP);
            }
        }
        // dQ = scale·dS·K, eight query rows at a time; dV = Pᵀ·dO and dK = scale·dSᵀ·Q, eight keys at a time
        for (int i = 0; i < t; i += 8)
            blockTimes(scratch, dsm + i * SP, 1, SP, s, Math.min(8, t - i), k, ko, ldqk, d, scale, dq, qo + i * ldqk, ldqk);
        for (int j = 0; j < s; j += 8) {
            blockTimes(scratch, pm + j, SP, 1, t, Math.min(8, s - j), dout, oo, ldo, dv, 1f, dvv, vo + j * ldv, ldv);
            blockTimes(scratch, dsm + j, SP, 1, t, Math.min(8, s - j), q, qo, ldqk, d, scale, dk, ko + j * ldqk, ldqk);
        }
    }
}
