package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Single-precision GEMM on row-major arrays, C ← alpha·op(A)·op(B) + beta·C. C is walked in NC-wide column blocks
 * and K in blocks of KC-deep slices: each block of B is packed into NR-wide panels that stay in the core's L2, then
 * each MR-row panel of A is packed (alpha folded in) and stays in L1 while the MR×NR register-tiled micro-kernel
 * runs it against every B panel in turn, streaming them from L2. Large products share the packing of each B block
 * between the threads, which then claim groups of A panels; small ones split C between the threads up front, each
 * packing its own B (both {@link #blocks}). {@link #scalar} is the plain twin.
 *
 * <p>This is GotoBLAS's loop nest with the roles of the two operands swapped at the innermost level: the kernel
 * broadcasts A and loads B as vectors, so the broadcast side (12 floats a step) is the one kept in L1 and the
 * vector side (32 floats a step) the one streamed, as BLIS does with its own broadcast and vector operands.
 *
 * <p>The micro-kernel is generated (vector-cpu/gen-kernel.py): C2 keeps FloatVectors in registers only as
 * named locals of one method, so the MR·NR/VL accumulators are spelled out.
 */
final class Gemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    static final int MR = 12;
    static final int NR = 2 * VL;
    /** K slice: an A panel (MR×KC, 12 KB) stays in L1 beside the B panel streaming through it. */
    static final int KC = 256;
    /** Column block: the packed B slice (KC×NC, 1 MB) stays in L2 while every A panel of the thread passes. */
    static final int NC = 1024;
    /** Floats of packed B a thread keeps (1 MB, half this core's L2): as deep a block of K as fits. */
    static final int B_BLOCK = 256 * 1024;

    private static final ThreadLocal<float[]> PACK_A = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private static final ThreadLocal<float[]> PACK_B = ThreadLocal.withInitial(() -> new float[0]);

    private Gemm() {}

    /** Element (i, p) of op(A) is {@code ta ? a[ao + p·lda + i] : a[ao + i·lda + p]}; likewise for B and C. */
    static void sgemm(Parallel par, boolean ta, boolean tb, int m, int n, int k, float alpha,
                      float[] a, int ao, int lda, float[] b, int bo, int ldb,
                      float beta, float[] c, int co, int ldc) {
        sgemm(par, ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc, Epilogue.NONE);
    }

    /**
     * C ← alpha·op(A)·op(B) + beta·C + bias + residual with the parts of {@code ep}. With beta 0 each tile of C
     * starts as bias + residual, written just before K's first slice adds its product: a linear layer's bias and the
     * residual connection after it cost no pass over C.
     */
    static void sgemm(Parallel par, boolean ta, boolean tb, int m, int n, int k, float alpha,
                      float[] a, int ao, int lda, float[] b, int bo, int ldb,
                      float beta, float[] c, int co, int ldc, Epilogue ep) {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0 || (long) m * n * k < 8192 || m <= FEW_ROWS) {
            scaleC(m, n, beta, c, co, ldc);
            if (k != 0 && alpha != 0) {
                if (m <= FEW_ROWS) fewRows(par, ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc);
                else scalarAccumulate(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc);
            }
            ep.add(c, co, ldc, 0, 0, m, n);
            return;
        }
        // beta 0: the first K slice's kernels store into C instead of adding to it, sparing a pass that clears C
        boolean store = beta == 0f;
        if (!store) {
            scaleC(m, n, beta, c, co, ldc);
            ep.add(c, co, ldc, 0, 0, m, n);
        }
        int threads = par.threads();
        int mPanels = (m + MR - 1) / MR, nPanels = (n + NR - 1) / NR;
        if (threads > 1 && mPanels >= 4 * threads && (long) m * n * k >= SHARED_MIN) {
            blocks(par, ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc, store, ep, 0, mPanels, 0, nPanels);
            return;
        }
        // small products: one fork-join; each thread packs all of the operand it does not split: split C by rows
        // (every thread packs all of B) unless C is wider than tall, and by columns as well only when there are too
        // few row panels to share
        int nSplit = m >= n ? 1 : Math.min(threads, Math.max(1, nPanels / 2));
        int mSplit = Math.max(1, Math.min(mPanels, threads / nSplit));
        par.forChunks(nSplit * mSplit, threads, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int ns = t / mSplit, ms = t % mSplit;
                int jp0 = (int) ((long) nPanels * ns / nSplit), jp1 = (int) ((long) nPanels * (ns + 1) / nSplit);
                int ip0 = (int) ((long) mPanels * ms / mSplit), ip1 = (int) ((long) mPanels * (ms + 1) / mSplit);
                blocks(Parallel.SEQUENTIAL, ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc, store, ep, ip0, ip1, jp0, jp1);
            }
        });
    }

    /** Products (m·n·k) from which the threads share each packed B block instead of each packing its own. */
    static final long SHARED_MIN = 1L << 26;
    /** A panels a thread claims at a time when the threads share the B blocks. */
    static final int PANELS_PER_CLAIM = 4;

    /**
     * Row panels [ip0, ip1) × column panels [jp0, jp1) of C: for each NC-wide block, B is packed as many KC slices
     * deep as fit in {@link #B_BLOCK} (into the calling thread's buffer), then every A panel runs against it. With
     * a pool, the threads pack each block together (a range of its panels each), then claim groups of A panels until
     * none are left; with {@link Parallel#SEQUENTIAL} (a share of a small product) the caller does both. Packing B
     * once instead of once per thread, and claiming the A panels rather than splitting them evenly up front (on a
     * shared machine one thread often runs slower than the other, and an even split waits for it) are what the
     * price of two fork-joins per block buys.
     */
    private static void blocks(Parallel par, boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int ao,
                               int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc, boolean store, Epilogue ep,
                               int ip0, int ip1, int jp0, int jp1) {
        int ncMax = Math.min(NC, (jp1 - jp0) * NR), kb = blockDepth(k, ncMax);
        float[] bp = scratch(PACK_B, ncMax * kb);
        for (int jq = jp0; jq < jp1; jq += NC / NR) {
            int jqEnd = Math.min(jp1, jq + NC / NR), jc = jq * NR, nc = Math.min(n, jqEnd * NR) - jc;
            int ncp = (jqEnd - jq) * NR;
            for (int pb = 0; pb < k; pb += kb) {
                int pb0 = pb, pbEnd = Math.min(k, pb + kb);
                par.forChunks(jqEnd - jq, par.threads(), (q0, q1) ->
                        packBlock(tb, b, bo, ldb, pb0, pbEnd, jc + q0 * NR, Math.min(nc, q1 * NR) - q0 * NR, ncp, q0, bp));
                par.forChunks(ip1 - ip0, (ip1 - ip0 + PANELS_PER_CLAIM - 1) / PANELS_PER_CLAIM, (i0, i1) ->
                        panels(ta, alpha, a, ao, lda, (ip0 + i0) * MR, Math.min(m, (ip0 + i1) * MR), pb0, pbEnd, bp, ncp, nc,
                                c, co + jc, ldc, store, ep, jc));
            }
        }
    }

    /** How many K rows of B to pack at once: as many KC slices as fit in {@link #B_BLOCK} beside nc columns. */
    private static int blockDepth(int k, int nc) {
        return Math.min(k, Math.max(KC, B_BLOCK / nc / KC * KC));
    }

    /**
     * Packs op(B)[pb : pbEnd, j0 : j0+w] as the panels from q0 on of a block ncp columns wide: slice pc of the block
     * at bp[(pc - pb)·ncp], its panel q at +q·NR·kc.
     */
    private static void packBlock(boolean tb, float[] b, int bo, int ldb, int pb, int pbEnd, int j0, int w, int ncp, int q0, float[] bp) {
        for (int pc = pb; pc < pbEnd; pc += KC) {
            int kc = Math.min(KC, pbEnd - pc);
            packB(tb, b, bo, ldb, pc, kc, j0, w, bp, (pc - pb) * ncp + q0 * NR * kc);
        }
    }

    /**
     * Rows [i0, i1) of C (in MR-row panels) against a packed block of B (K rows pb..pbEnd, nc columns, C's first
     * column at co): each panel runs the block's slices in turn, packing its MR×KC part of A for each (into this
     * thread's buffer, where it stays in L1) and running it against all of the slice's B panels. The deeper the
     * block, the longer the panel's row of C tiles stays in cache. With {@code store}, K's first slice overwrites C
     * and adds the epilogue's bias and residual (C's column jc is at co).
     */
    private static void panels(boolean ta, float alpha, float[] a, int ao, int lda, int i0, int i1, int pb, int pbEnd,
                               float[] bp, int ncp, int nc, float[] c, int co, int ldc, boolean store, Epilogue ep, int jc) {
        float[] ap = scratch(PACK_A, MR * KC + PACK_A_SLACK);
        float[] tile = TILE.get();
        for (int i = i0; i < i1; i += MR) {
            int mr = Math.min(MR, i1 - i);
            for (int pc = pb; pc < pbEnd; pc += KC) {
                int kc = Math.min(KC, pbEnd - pc), bBase = (pc - pb) * ncp;
                boolean add = !(store && pc == 0), epilogue = !add && ep.adds();
                packA(ta, alpha, a, ao, lda, i, mr, pc, kc, ap, 0);
                for (int j = 0; j < nc; j += NR) {
                    int nr = Math.min(NR, nc - j), bOff = bBase + j * kc, cOff = co + i * ldc + j;
                    if (mr == MR && nr == NR) {
                        // bias + residual first, the product added to them by the kernel: a pass over the tile
                        // after the kernel's store cost several times its arithmetic in a pass of cold weights
                        if (epilogue) ep.fillTile(c, cOff, ldc, i, jc + j);
                        kernelK(kc, ap, 0, bp, bOff, c, cOff, ldc, add || epilogue);
                    } else {
                        // ragged edge: the full tile into scratch (A and B are zero-padded), its valid part into C
                        kernelK(kc, ap, 0, bp, bOff, tile, 0, NR, false);
                        for (int r = 0; r < mr; r++) {
                            int cr = cOff + r * ldc;
                            if (add) for (int x = 0; x < nr; x++) c[cr + x] += tile[r * NR + x];
                            else System.arraycopy(tile, r * NR, c, cr, nr);
                        }
                        if (epilogue) ep.add(c, cOff, ldc, i, jc + j, mr, nr);
                    }
                }
            }
        }
    }

    /** The thread's scratch array of at least {@code size} floats, grown as needed and reused by later calls. */
    private static float[] scratch(ThreadLocal<float[]> slot, int size) {
        float[] buf = slot.get();
        if (buf.length < size) {
            buf = new float[size];
            slot.set(buf);
        }
        return buf;
    }

    /**
     * Packs alpha·op(A)[ic : ic+mc, pc : pc+kc] at ap[dst] into MR-row panels (panel-major, p-major inside), zero-padded.
     * ap needs {@link #PACK_A_SLACK} floats past the last panel: the transposing copy's last stores run over by up to 4.
     */
    static void packA(boolean ta, float alpha, float[] a, int ao, int lda, int ic, int mc, int pc, int kc, float[] ap, int dst) {
        for (int i = 0; i < mc; i += MR) {
            int mr = Math.min(MR, mc - i), base = dst + i * kc;
            int p = 0;
            if (ta) {
                if (mr == MR && VL >= MR) {
                    // each p's MR values are contiguous in a transposed A: one masked vector copy
                    FloatVector av = FloatVector.broadcast(S, alpha);
                    for (; p < kc; p++) FloatVector.fromArray(S, a, ao + (pc + p) * lda + ic + i, PANEL_LANES).mul(av).intoArray(ap, base + p * MR, PANEL_LANES);
                }
                for (; p < kc; p++) {
                    int src = ao + (pc + p) * lda + ic + i, d = base + p * MR;
                    for (int r = 0; r < mr; r++) ap[d + r] = alpha * a[src + r];
                    for (int r = mr; r < MR; r++) ap[d + r] = 0f;
                }
            } else {
                int src = ao + (ic + i) * lda + pc;
                if (mr == MR && VL == 16) p = transposeRows(alpha, a, src, lda, kc, ap, base);
                for (int r = 0; r < MR; r++) {
                    int s = src + r * lda;
                    for (int q = p; q < kc; q++) ap[base + q * MR + r] = r < mr ? alpha * a[s + q] : 0f;
                }
            }
        }
    }

    static final int PACK_A_SLACK = 16;

    private static final VectorMask<Float> PANEL_LANES = VectorMask.fromLong(S, (1L << Math.min(MR, VL)) - 1);

    /** Index vectors of the radix-2 transpose below: stage k swaps bit k of the row with bit k of the lane. */
    private static final FloatVector[] SWAP_LO = new FloatVector[4], SWAP_HI = new FloatVector[4];
    static {
        if (VL == 16) {
            for (int k = 0; k < 4; k++) {
                float[] lo = new float[16], hi = new float[16];
                int bit = 1 << k;
                for (int j = 0; j < 16; j++) {
                    boolean set = (j & bit) != 0;
                    lo[j] = set ? 16 + j - bit : j;
                    hi[j] = set ? 16 + j : j + bit;
                }
                SWAP_LO[k] = FloatVector.fromArray(S, lo, 0);
                SWAP_HI[k] = FloatVector.fromArray(S, hi, 0);
            }
        }
    }

    /**
     * dst[dOff + c·ldd + r] = src[so + r·ld + c] for r, c < 16: a 16×16 block transposed in registers by the four
     * radix-2 stages of {@link #transposeRows} (VL = 16 only). Spelled out: vectors kept in an array are boxed.
     */
    static void transpose16(float[] src, int so, int ld, float[] dst, int dOff, int ldd) {
        FloatVector r0 = FloatVector.fromArray(S, src, so + 0 * ld), r1 = FloatVector.fromArray(S, src, so + 1 * ld);
        FloatVector r2 = FloatVector.fromArray(S, src, so + 2 * ld), r3 = FloatVector.fromArray(S, src, so + 3 * ld);
        FloatVector r4 = FloatVector.fromArray(S, src, so + 4 * ld), r5 = FloatVector.fromArray(S, src, so + 5 * ld);
        FloatVector r6 = FloatVector.fromArray(S, src, so + 6 * ld), r7 = FloatVector.fromArray(S, src, so + 7 * ld);
        FloatVector r8 = FloatVector.fromArray(S, src, so + 8 * ld), r9 = FloatVector.fromArray(S, src, so + 9 * ld);
        FloatVector r10 = FloatVector.fromArray(S, src, so + 10 * ld), r11 = FloatVector.fromArray(S, src, so + 11 * ld);
        FloatVector r12 = FloatVector.fromArray(S, src, so + 12 * ld), r13 = FloatVector.fromArray(S, src, so + 13 * ld);
        FloatVector r14 = FloatVector.fromArray(S, src, so + 14 * ld), r15 = FloatVector.fromArray(S, src, so + 15 * ld);
        FloatVector lo0 = SWAP_LO[0], hi0 = SWAP_HI[0];
        FloatVector t0 = lo0.selectFrom(r0, r1), t1 = hi0.selectFrom(r0, r1), t2 = lo0.selectFrom(r2, r3), t3 = hi0.selectFrom(r2, r3);
        FloatVector t4 = lo0.selectFrom(r4, r5), t5 = hi0.selectFrom(r4, r5), t6 = lo0.selectFrom(r6, r7), t7 = hi0.selectFrom(r6, r7);
        FloatVector t8 = lo0.selectFrom(r8, r9), t9 = hi0.selectFrom(r8, r9), t10 = lo0.selectFrom(r10, r11), t11 = hi0.selectFrom(r10, r11);
        FloatVector t12 = lo0.selectFrom(r12, r13), t13 = hi0.selectFrom(r12, r13), t14 = lo0.selectFrom(r14, r15), t15 = hi0.selectFrom(r14, r15);
        FloatVector lo1 = SWAP_LO[1], hi1 = SWAP_HI[1];
        FloatVector u0 = lo1.selectFrom(t0, t2), u2 = hi1.selectFrom(t0, t2), u1 = lo1.selectFrom(t1, t3), u3 = hi1.selectFrom(t1, t3);
        FloatVector u4 = lo1.selectFrom(t4, t6), u6 = hi1.selectFrom(t4, t6), u5 = lo1.selectFrom(t5, t7), u7 = hi1.selectFrom(t5, t7);
        FloatVector u8 = lo1.selectFrom(t8, t10), u10 = hi1.selectFrom(t8, t10), u9 = lo1.selectFrom(t9, t11), u11 = hi1.selectFrom(t9, t11);
        FloatVector u12 = lo1.selectFrom(t12, t14), u14 = hi1.selectFrom(t12, t14), u13 = lo1.selectFrom(t13, t15), u15 = hi1.selectFrom(t13, t15);
        FloatVector lo2 = SWAP_LO[2], hi2 = SWAP_HI[2];
        FloatVector v0 = lo2.selectFrom(u0, u4), v4 = hi2.selectFrom(u0, u4), v1 = lo2.selectFrom(u1, u5), v5 = hi2.selectFrom(u1, u5);
        FloatVector v2 = lo2.selectFrom(u2, u6), v6 = hi2.selectFrom(u2, u6), v3 = lo2.selectFrom(u3, u7), v7 = hi2.selectFrom(u3, u7);
        FloatVector v8 = lo2.selectFrom(u8, u12), v12 = hi2.selectFrom(u8, u12), v9 = lo2.selectFrom(u9, u13), v13 = hi2.selectFrom(u9, u13);
        FloatVector v10 = lo2.selectFrom(u10, u14), v14 = hi2.selectFrom(u10, u14), v11 = lo2.selectFrom(u11, u15), v15 = hi2.selectFrom(u11, u15);
        FloatVector lo3 = SWAP_LO[3], hi3 = SWAP_HI[3];
        FloatVector w0 = lo3.selectFrom(v0, v8), w8 = hi3.selectFrom(v0, v8), w1 = lo3.selectFrom(v1, v9), w9 = hi3.selectFrom(v1, v9);
        FloatVector w2 = lo3.selectFrom(v2, v10), w10 = hi3.selectFrom(v2, v10), w3 = lo3.selectFrom(v3, v11), w11 = hi3.selectFrom(v3, v11);
        FloatVector w4 = lo3.selectFrom(v4, v12), w12 = hi3.selectFrom(v4, v12), w5 = lo3.selectFrom(v5, v13), w13 = hi3.selectFrom(v5, v13);
        FloatVector w6 = lo3.selectFrom(v6, v14), w14 = hi3.selectFrom(v6, v14), w7 = lo3.selectFrom(v7, v15), w15 = hi3.selectFrom(v7, v15);
        w0.intoArray(dst, dOff + 0 * ldd); w1.intoArray(dst, dOff + 1 * ldd); w2.intoArray(dst, dOff + 2 * ldd); w3.intoArray(dst, dOff + 3 * ldd);
        w4.intoArray(dst, dOff + 4 * ldd); w5.intoArray(dst, dOff + 5 * ldd); w6.intoArray(dst, dOff + 6 * ldd); w7.intoArray(dst, dOff + 7 * ldd);
        w8.intoArray(dst, dOff + 8 * ldd); w9.intoArray(dst, dOff + 9 * ldd); w10.intoArray(dst, dOff + 10 * ldd); w11.intoArray(dst, dOff + 11 * ldd);
        w12.intoArray(dst, dOff + 12 * ldd); w13.intoArray(dst, dOff + 13 * ldd); w14.intoArray(dst, dOff + 14 * ldd); w15.intoArray(dst, dOff + 15 * ldd);
    }

    /**
     * Packs the 12 rows at a[src + r·lda] (times alpha), 16 columns at a time, as ap[dst + p·12 + r]; returns how many
     * columns it packed (the caller packs the rest). The packed panel is these rows transposed: 12 row vectors, 4
     * zero rows, four radix-2 stages of two-vector selects (each swapping one bit of the row index with the same
     * bit of the lane index), then 16 overlapping stores in order, each one's last 4 lanes overwritten by the next:
     * contiguous vector loads and stores instead of a strided scalar copy.
     */
    private static int transposeRows(float alpha, float[] a, int src, int lda, int kc, float[] ap, int dst) {
        FloatVector z = FloatVector.zero(S), al = FloatVector.broadcast(S, alpha);
        FloatVector lo0 = SWAP_LO[0], hi0 = SWAP_HI[0], lo1 = SWAP_LO[1], hi1 = SWAP_HI[1];
        FloatVector lo2 = SWAP_LO[2], hi2 = SWAP_HI[2], lo3 = SWAP_LO[3], hi3 = SWAP_HI[3];
        int p = 0;
        // the last block's overlapping store writes 4 floats past the panel: into the next panel (packed later) or
        // the buffer's slack
        for (; p + 16 <= kc; p += 16) {
            int s = src + p;
            FloatVector r0 = FloatVector.fromArray(S, a, s).mul(al), r1 = FloatVector.fromArray(S, a, s + lda).mul(al);
            FloatVector r2 = FloatVector.fromArray(S, a, s + 2 * lda).mul(al), r3 = FloatVector.fromArray(S, a, s + 3 * lda).mul(al);
            FloatVector r4 = FloatVector.fromArray(S, a, s + 4 * lda).mul(al), r5 = FloatVector.fromArray(S, a, s + 5 * lda).mul(al);
            FloatVector r6 = FloatVector.fromArray(S, a, s + 6 * lda).mul(al), r7 = FloatVector.fromArray(S, a, s + 7 * lda).mul(al);
            FloatVector r8 = FloatVector.fromArray(S, a, s + 8 * lda).mul(al), r9 = FloatVector.fromArray(S, a, s + 9 * lda).mul(al);
            FloatVector r10 = FloatVector.fromArray(S, a, s + 10 * lda).mul(al), r11 = FloatVector.fromArray(S, a, s + 11 * lda).mul(al);
            // bit 0: rows (0,1) (2,3) ... (10,11)
            FloatVector t0 = lo0.selectFrom(r0, r1), t1 = hi0.selectFrom(r0, r1), t2 = lo0.selectFrom(r2, r3), t3 = hi0.selectFrom(r2, r3);
            FloatVector t4 = lo0.selectFrom(r4, r5), t5 = hi0.selectFrom(r4, r5), t6 = lo0.selectFrom(r6, r7), t7 = hi0.selectFrom(r6, r7);
            FloatVector t8 = lo0.selectFrom(r8, r9), t9 = hi0.selectFrom(r8, r9), t10 = lo0.selectFrom(r10, r11), t11 = hi0.selectFrom(r10, r11);
            // bit 1: (0,2) (1,3) (4,6) (5,7) (8,10) (9,11)
            FloatVector u0 = lo1.selectFrom(t0, t2), u2 = hi1.selectFrom(t0, t2), u1 = lo1.selectFrom(t1, t3), u3 = hi1.selectFrom(t1, t3);
            FloatVector u4 = lo1.selectFrom(t4, t6), u6 = hi1.selectFrom(t4, t6), u5 = lo1.selectFrom(t5, t7), u7 = hi1.selectFrom(t5, t7);
            FloatVector u8 = lo1.selectFrom(t8, t10), u10 = hi1.selectFrom(t8, t10), u9 = lo1.selectFrom(t9, t11), u11 = hi1.selectFrom(t9, t11);
            // bit 2: (0,4) (1,5) (2,6) (3,7), and (8..11, 12..15) with rows 12..15 still zero
            FloatVector v0 = lo2.selectFrom(u0, u4), v4 = hi2.selectFrom(u0, u4), v1 = lo2.selectFrom(u1, u5), v5 = hi2.selectFrom(u1, u5);
            FloatVector v2 = lo2.selectFrom(u2, u6), v6 = hi2.selectFrom(u2, u6), v3 = lo2.selectFrom(u3, u7), v7 = hi2.selectFrom(u3, u7);
            FloatVector v8 = lo2.selectFrom(u8, z), v12 = hi2.selectFrom(u8, z), v9 = lo2.selectFrom(u9, z), v13 = hi2.selectFrom(u9, z);
            FloatVector v10 = lo2.selectFrom(u10, z), v14 = hi2.selectFrom(u10, z), v11 = lo2.selectFrom(u11, z), v15 = hi2.selectFrom(u11, z);
            // bit 3: (i, i+8); row p of the result holds column p of the 12 rows in lanes 0..11
            FloatVector w0 = lo3.selectFrom(v0, v8), w8 = hi3.selectFrom(v0, v8), w1 = lo3.selectFrom(v1, v9), w9 = hi3.selectFrom(v1, v9);
            FloatVector w2 = lo3.selectFrom(v2, v10), w10 = hi3.selectFrom(v2, v10), w3 = lo3.selectFrom(v3, v11), w11 = hi3.selectFrom(v3, v11);
            FloatVector w4 = lo3.selectFrom(v4, v12), w12 = hi3.selectFrom(v4, v12), w5 = lo3.selectFrom(v5, v13), w13 = hi3.selectFrom(v5, v13);
            FloatVector w6 = lo3.selectFrom(v6, v14), w14 = hi3.selectFrom(v6, v14), w7 = lo3.selectFrom(v7, v15), w15 = hi3.selectFrom(v7, v15);
            int d = dst + p * MR;
            w0.intoArray(ap, d); w1.intoArray(ap, d + MR); w2.intoArray(ap, d + 2 * MR); w3.intoArray(ap, d + 3 * MR);
            w4.intoArray(ap, d + 4 * MR); w5.intoArray(ap, d + 5 * MR); w6.intoArray(ap, d + 6 * MR); w7.intoArray(ap, d + 7 * MR);
            w8.intoArray(ap, d + 8 * MR); w9.intoArray(ap, d + 9 * MR); w10.intoArray(ap, d + 10 * MR); w11.intoArray(ap, d + 11 * MR);
            w12.intoArray(ap, d + 12 * MR); w13.intoArray(ap, d + 13 * MR); w14.intoArray(ap, d + 14 * MR); w15.intoArray(ap, d + 15 * MR);
        }
        return p;
    }

    /**
     * Packs op(B)[pc : pc+kc, j0 : j0+nc] into NR-wide panels at bp[dst] (panel q at +q·NR·kc, p-major inside),
     * zero-padding the last panel. Rows of B are read front to back: walking one panel down K would touch a new
     * cache line every row, and those strided misses cost more than the multiply.
     */
    static void packB(boolean tb, float[] b, int bo, int ldb, int pc, int kc, int j0, int nc, float[] bp, int dst) {
        int panels = (nc + NR - 1) / NR, last = nc - (panels - 1) * NR;
        if (!tb) {
            for (int p = 0; p < kc; p++) {
                int src = bo + (pc + p) * ldb + j0;
                for (int q = 0; q < panels; q++) {
                    int d = dst + q * NR * kc + p * NR, w = q == panels - 1 ? last : NR;
                    if (w == NR) {
                        // two vector copies: System.arraycopy's call costs more than the 128 bytes it moves
                        FloatVector.fromArray(S, b, src + q * NR).intoArray(bp, d);
                        FloatVector.fromArray(S, b, src + q * NR + VL).intoArray(bp, d + VL);
                    } else {
                        System.arraycopy(b, src + q * NR, bp, d, w);
                        for (int x = w; x < NR; x++) bp[d + x] = 0f;
                    }
                }
            }
        } else {
            // op(B)(p, j) = b[j·ldb + p]: each row j of b is contiguous in p. Sixteen whole rows at a time go through
            // 16×16 blocks transposed in registers (a linear layer's weight, [out, in], is B transposed: one float at a
            // time, its packing cost a third of the product at a ViT's batch-1 shapes); the rest one float at a time
            int kc16 = VL == 16 ? kc & ~15 : 0;
            for (int j = 0; j < panels * NR; j++) {
                int q = j / NR, x = j % NR, d = dst + q * NR * kc + x;
                if (j >= nc) {
                    for (int p = 0; p < kc; p++) bp[d + p * NR] = 0f;
                    continue;
                }
                int src = bo + (j0 + j) * ldb + pc;
                if (kc16 > 0 && x % 16 == 0 && j + 16 <= nc) {
                    for (int p0 = 0; p0 < kc16; p0 += 16) transpose16(b, src + p0, ldb, bp, d + p0 * NR, NR);
                    for (int r = 0; r < 16; r++)
                        for (int p = kc16; p < kc; p++) bp[d + r + p * NR] = b[src + r * ldb + p];
                    j += 15;
                    continue;
                }
                for (int p = 0; p < kc; p++) bp[d + p * NR] = b[src + p];
            }
        }
    }

    // BEGIN GENERATED KERNEL (gen-kernel.py 12 2 2)
    /** C[MR, NR] = (add ? C : 0) + Ap·Bp for Ap and Bp packed p-major, MR and NR wide: MR=12, NR=2·VL, k unrolled by 2. */
    static void kernelK(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc, boolean add) {
        FloatVector c00 = FloatVector.zero(S); FloatVector c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S); FloatVector c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S); FloatVector c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S); FloatVector c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S); FloatVector c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S); FloatVector c51 = FloatVector.zero(S);
        FloatVector c60 = FloatVector.zero(S); FloatVector c61 = FloatVector.zero(S);
        FloatVector c70 = FloatVector.zero(S); FloatVector c71 = FloatVector.zero(S);
        FloatVector c80 = FloatVector.zero(S); FloatVector c81 = FloatVector.zero(S);
        FloatVector c90 = FloatVector.zero(S); FloatVector c91 = FloatVector.zero(S);
        FloatVector c100 = FloatVector.zero(S); FloatVector c101 = FloatVector.zero(S);
        FloatVector c110 = FloatVector.zero(S); FloatVector c111 = FloatVector.zero(S);
        int p = 0, kcu = kc - kc % 2;
        for (; p < kcu; p += 2) { // unrolled: loop bookkeeping would otherwise take FMA-port slots
            {
                int b = bo + (p + 0) * NR, a = ao + (p + 0) * MR;
                FloatVector b0 = FloatVector.fromArray(S, bp, b + 0 * VL);
                FloatVector b1 = FloatVector.fromArray(S, bp, b + 1 * VL);
                FloatVector a0 = FloatVector.broadcast(S, ap[a + 0]);
                c00 = a0.fma(b0, c00);
                c01 = a0.fma(b1, c01);
                FloatVector a1 = FloatVector.broadcast(S, ap[a + 1]);
                c10 = a1.fma(b0, c10);
                c11 = a1.fma(b1, c11);
                FloatVector a2 = FloatVector.broadcast(S, ap[a + 2]);
                c20 = a2.fma(b0, c20);
                c21 = a2.fma(b1, c21);
                FloatVector a3 = FloatVector.broadcast(S, ap[a + 3]);
                c30 = a3.fma(b0, c30);
                c31 = a3.fma(b1, c31);
                FloatVector a4 = FloatVector.broadcast(S, ap[a + 4]);
                c40 = a4.fma(b0, c40);
                c41 = a4.fma(b1, c41);
                FloatVector a5 = FloatVector.broadcast(S, ap[a + 5]);
                c50 = a5.fma(b0, c50);
                c51 = a5.fma(b1, c51);
                FloatVector a6 = FloatVector.broadcast(S, ap[a + 6]);
                c60 = a6.fma(b0, c60);
                c61 = a6.fma(b1, c61);
                FloatVector a7 = FloatVector.broadcast(S, ap[a + 7]);
                c70 = a7.fma(b0, c70);
                c71 = a7.fma(b1, c71);
                FloatVector a8 = FloatVector.broadcast(S, ap[a + 8]);
                c80 = a8.fma(b0, c80);
                c81 = a8.fma(b1, c81);
                FloatVector a9 = FloatVector.broadcast(S, ap[a + 9]);
                c90 = a9.fma(b0, c90);
                c91 = a9.fma(b1, c91);
                FloatVector a10 = FloatVector.broadcast(S, ap[a + 10]);
                c100 = a10.fma(b0, c100);
                c101 = a10.fma(b1, c101);
                FloatVector a11 = FloatVector.broadcast(S, ap[a + 11]);
                c110 = a11.fma(b0, c110);
                c111 = a11.fma(b1, c111);
            }
            {
                int b = bo + (p + 1) * NR, a = ao + (p + 1) * MR;
                FloatVector b0 = FloatVector.fromArray(S, bp, b + 0 * VL);
                FloatVector b1 = FloatVector.fromArray(S, bp, b + 1 * VL);
                FloatVector a0 = FloatVector.broadcast(S, ap[a + 0]);
                c00 = a0.fma(b0, c00);
                c01 = a0.fma(b1, c01);
                FloatVector a1 = FloatVector.broadcast(S, ap[a + 1]);
                c10 = a1.fma(b0, c10);
                c11 = a1.fma(b1, c11);
                FloatVector a2 = FloatVector.broadcast(S, ap[a + 2]);
                c20 = a2.fma(b0, c20);
                c21 = a2.fma(b1, c21);
                FloatVector a3 = FloatVector.broadcast(S, ap[a + 3]);
                c30 = a3.fma(b0, c30);
                c31 = a3.fma(b1, c31);
                FloatVector a4 = FloatVector.broadcast(S, ap[a + 4]);
                c40 = a4.fma(b0, c40);
                c41 = a4.fma(b1, c41);
                FloatVector a5 = FloatVector.broadcast(S, ap[a + 5]);
                c50 = a5.fma(b0, c50);
                c51 = a5.fma(b1, c51);
                FloatVector a6 = FloatVector.broadcast(S, ap[a + 6]);
                c60 = a6.fma(b0, c60);
                c61 = a6.fma(b1, c61);
                FloatVector a7 = FloatVector.broadcast(S, ap[a + 7]);
                c70 = a7.fma(b0, c70);
                c71 = a7.fma(b1, c71);
                FloatVector a8 = FloatVector.broadcast(S, ap[a + 8]);
                c80 = a8.fma(b0, c80);
                c81 = a8.fma(b1, c81);
                FloatVector a9 = FloatVector.broadcast(S, ap[a + 9]);
                c90 = a9.fma(b0, c90);
                c91 = a9.fma(b1, c91);
                FloatVector a10 = FloatVector.broadcast(S, ap[a + 10]);
                c100 = a10.fma(b0, c100);
                c101 = a10.fma(b1, c101);
                FloatVector a11 = FloatVector.broadcast(S, ap[a + 11]);
                c110 = a11.fma(b0, c110);
                c111 = a11.fma(b1, c111);
            }
        }
        for (; p < kc; p++) {
            int b = bo + (p) * NR, a = ao + (p) * MR;
            FloatVector b0 = FloatVector.fromArray(S, bp, b + 0 * VL);
            FloatVector b1 = FloatVector.fromArray(S, bp, b + 1 * VL);
            FloatVector a0 = FloatVector.broadcast(S, ap[a + 0]);
            c00 = a0.fma(b0, c00);
            c01 = a0.fma(b1, c01);
            FloatVector a1 = FloatVector.broadcast(S, ap[a + 1]);
            c10 = a1.fma(b0, c10);
            c11 = a1.fma(b1, c11);
            FloatVector a2 = FloatVector.broadcast(S, ap[a + 2]);
            c20 = a2.fma(b0, c20);
            c21 = a2.fma(b1, c21);
            FloatVector a3 = FloatVector.broadcast(S, ap[a + 3]);
            c30 = a3.fma(b0, c30);
            c31 = a3.fma(b1, c31);
            FloatVector a4 = FloatVector.broadcast(S, ap[a + 4]);
            c40 = a4.fma(b0, c40);
            c41 = a4.fma(b1, c41);
            FloatVector a5 = FloatVector.broadcast(S, ap[a + 5]);
            c50 = a5.fma(b0, c50);
            c51 = a5.fma(b1, c51);
            FloatVector a6 = FloatVector.broadcast(S, ap[a + 6]);
            c60 = a6.fma(b0, c60);
            c61 = a6.fma(b1, c61);
            FloatVector a7 = FloatVector.broadcast(S, ap[a + 7]);
            c70 = a7.fma(b0, c70);
            c71 = a7.fma(b1, c71);
            FloatVector a8 = FloatVector.broadcast(S, ap[a + 8]);
            c80 = a8.fma(b0, c80);
            c81 = a8.fma(b1, c81);
            FloatVector a9 = FloatVector.broadcast(S, ap[a + 9]);
            c90 = a9.fma(b0, c90);
            c91 = a9.fma(b1, c91);
            FloatVector a10 = FloatVector.broadcast(S, ap[a + 10]);
            c100 = a10.fma(b0, c100);
            c101 = a10.fma(b1, c101);
            FloatVector a11 = FloatVector.broadcast(S, ap[a + 11]);
            c110 = a11.fma(b0, c110);
            c111 = a11.fma(b1, c111);
        }
        if (add) {
            c00 = c00.add(FloatVector.fromArray(S, c, co + 0 * ldc + 0 * VL));
            c01 = c01.add(FloatVector.fromArray(S, c, co + 0 * ldc + 1 * VL));
            c10 = c10.add(FloatVector.fromArray(S, c, co + 1 * ldc + 0 * VL));
            c11 = c11.add(FloatVector.fromArray(S, c, co + 1 * ldc + 1 * VL));
            c20 = c20.add(FloatVector.fromArray(S, c, co + 2 * ldc + 0 * VL));
            c21 = c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + 1 * VL));
            c30 = c30.add(FloatVector.fromArray(S, c, co + 3 * ldc + 0 * VL));
            c31 = c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + 1 * VL));
            c40 = c40.add(FloatVector.fromArray(S, c, co + 4 * ldc + 0 * VL));
            c41 = c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + 1 * VL));
            c50 = c50.add(FloatVector.fromArray(S, c, co + 5 * ldc + 0 * VL));
            c51 = c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + 1 * VL));
            c60 = c60.add(FloatVector.fromArray(S, c, co + 6 * ldc + 0 * VL));
            c61 = c61.add(FloatVector.fromArray(S, c, co + 6 * ldc + 1 * VL));
            c70 = c70.add(FloatVector.fromArray(S, c, co + 7 * ldc + 0 * VL));
            c71 = c71.add(FloatVector.fromArray(S, c, co + 7 * ldc + 1 * VL));
            c80 = c80.add(FloatVector.fromArray(S, c, co + 8 * ldc + 0 * VL));
            c81 = c81.add(FloatVector.fromArray(S, c, co + 8 * ldc + 1 * VL));
            c90 = c90.add(FloatVector.fromArray(S, c, co + 9 * ldc + 0 * VL));
            c91 = c91.add(FloatVector.fromArray(S, c, co + 9 * ldc + 1 * VL));
            c100 = c100.add(FloatVector.fromArray(S, c, co + 10 * ldc + 0 * VL));
            c101 = c101.add(FloatVector.fromArray(S, c, co + 10 * ldc + 1 * VL));
            c110 = c110.add(FloatVector.fromArray(S, c, co + 11 * ldc + 0 * VL));
            c111 = c111.add(FloatVector.fromArray(S, c, co + 11 * ldc + 1 * VL));
        }
        c00.intoArray(c, co + 0 * ldc + 0 * VL);
        c01.intoArray(c, co + 0 * ldc + 1 * VL);
        c10.intoArray(c, co + 1 * ldc + 0 * VL);
        c11.intoArray(c, co + 1 * ldc + 1 * VL);
        c20.intoArray(c, co + 2 * ldc + 0 * VL);
        c21.intoArray(c, co + 2 * ldc + 1 * VL);
        c30.intoArray(c, co + 3 * ldc + 0 * VL);
        c31.intoArray(c, co + 3 * ldc + 1 * VL);
        c40.intoArray(c, co + 4 * ldc + 0 * VL);
        c41.intoArray(c, co + 4 * ldc + 1 * VL);
        c50.intoArray(c, co + 5 * ldc + 0 * VL);
        c51.intoArray(c, co + 5 * ldc + 1 * VL);
        c60.intoArray(c, co + 6 * ldc + 0 * VL);
        c61.intoArray(c, co + 6 * ldc + 1 * VL);
        c70.intoArray(c, co + 7 * ldc + 0 * VL);
        c71.intoArray(c, co + 7 * ldc + 1 * VL);
        c80.intoArray(c, co + 8 * ldc + 0 * VL);
        c81.intoArray(c, co + 8 * ldc + 1 * VL);
        c90.intoArray(c, co + 9 * ldc + 0 * VL);
        c91.intoArray(c, co + 9 * ldc + 1 * VL);
        c100.intoArray(c, co + 10 * ldc + 0 * VL);
        c101.intoArray(c, co + 10 * ldc + 1 * VL);
        c110.intoArray(c, co + 11 * ldc + 0 * VL);
        c111.intoArray(c, co + 11 * ldc + 1 * VL);
    }
    // END GENERATED KERNEL

    /** C ← beta·C; beta = 0 clears C (so NaN or garbage in C never leaks through). */
    static void scaleC(int m, int n, float beta, float[] c, int co, int ldc) {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++) {
            int r = co + i * ldc;
            if (beta == 0f) Arrays.fill(c, r, r + n, 0f);
            else for (int j = 0; j < n; j++) c[r + j] *= beta;
        }
    }

    /** Rows of C up to which {@link #fewRows} beats packing. */
    static final int FEW_ROWS = 4;

    /**
     * C += alpha·op(A)·op(B) for a few rows of C — a decoder drawing one token at a time — where packing B would
     * cost as much as the product itself: B is read once, in place, by column ranges of C across threads; along K
     * as dot products when B is transposed (a linear layer's weight [N, K]), along N as row updates otherwise.
     */
    static void fewRows(Parallel par, boolean ta, boolean tb, int m, int n, int k, float alpha,
                        float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc) {
        // op(A)'s rows must be contiguous: read in place, or (transposed A) gathered once into this thread's scratch
        float[] ar = a;
        int aro = ao, ars = lda;
        if (ta) {
            ar = scratch(PACK_A, m * k);
            for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) ar[i * k + p] = a[ao + p * lda + i];
            aro = 0;
            ars = k;
        }
        float[] rows = ar;
        int ro = aro, rs = ars;
        int chunks = (long) n * k * m >= 1 << 16 ? par.threads() : 1;
        par.forChunks(n, chunks, (j0, j1) -> {
            if (tb) {
                for (int j = j0; j < j1; j++)
                    for (int i = 0; i < m; i++) c[co + i * ldc + j] += alpha * Pointwise.dot(rows, ro + i * rs, b, bo + j * ldb, k);
            } else {
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) Pointwise.axpy(alpha * rows[ro + i * rs + p], b, bo + p * ldb + j0, c, co + i * ldc + j0, j1 - j0);
            }
        });
    }

    /** C += alpha·op(A)·op(B) with plain loops: for tiny products, where packing costs more than it saves. */
    static void scalarAccumulate(boolean ta, boolean tb, int m, int n, int k, float alpha,
                                 float[] a, int ao, int lda, float[] b, int bo, int ldb, float[] c, int co, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float s = 0f;
                for (int p = 0; p < k; p++) {
                    float av = ta ? a[ao + p * lda + i] : a[ao + i * lda + p];
                    float bv = tb ? b[bo + j * ldb + p] : b[bo + p * ldb + j];
                    s += av * bv;
                }
                c[co + i * ldc + j] += alpha * s;
            }
        }
    }

    /** The scalar twin of {@link #sgemm}: same contract, plain loops. */
    static void scalar(boolean ta, boolean tb, int m, int n, int k, float alpha,
                       float[] a, int ao, int lda, float[] b, int bo, int ldb, float beta, float[] c, int co, int ldc) {
        scaleC(m, n, beta, c, co, ldc);
        if (alpha != 0) scalarAccumulate(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc);
    }
}
