package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Single-precision GEMM on row-major arrays, C ← alpha·op(A)·op(B) + beta·C. Threads take ranges of C's columns
 * (and rows, when N is narrow); each walks its NC-wide blocks: B for the block (all of K) is packed into NR-wide
 * panels, then every MC-row block runs the KC-deep slices innermost, packing that small slice of A (alpha folded
 * in) into MR-row panels, while an MR×NR register-tiled micro-kernel runs over the panels. Packed A and the
 * MC×NC block of C stay in the core's L2 from the first K slice to the last; the packed B block (K×NC) outgrows L2
 * at large K, so its next panel is read ahead while the kernels work on the current one. Threads never wait for
 * each other. {@link #scalar} is the plain twin.
 *
 * <p>The micro-kernel is generated (vector-cpu/gen-kernel.py): C2 keeps FloatVectors in registers only as
 * named locals of one method, so the MR·NR/VL accumulators are spelled out.
 */
final class Gemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    static final int MR = 12;
    static final int NR = 2 * VL;
    static final int KC = 256;
    static final int MC = 240;
    static final int NC = 512;

    private static final ThreadLocal<float[]> PACK_A = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private static final ThreadLocal<float[]> PACK_B = ThreadLocal.withInitial(() -> new float[0]);

    private Gemm() {}

    /** Element (i, p) of op(A) is {@code ta ? a[ao + p·lda + i] : a[ao + i·lda + p]}; likewise for B and C. */
    static void sgemm(Parallel par, boolean ta, boolean tb, int m, int n, int k, float alpha,
                      float[] a, int ao, int lda, float[] b, int bo, int ldb,
                      float beta, float[] c, int co, int ldc) {
        if (m == 0 || n == 0) return;
        scaleC(m, n, beta, c, co, ldc);
        if (k == 0 || alpha == 0) return;
        if ((long) m * n * k < 8192) {
            scalarAccumulate(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc);
            return;
        }
        if (m <= FEW_ROWS) {
            fewRows(par, ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc);
            return;
        }
        int threads = par.threads();
        int mPanels = (m + MR - 1) / MR, nPanels = (n + NR - 1) / NR;
        // threads take column ranges of C, or row ranges as well when N is too narrow to share; a tall, narrow C
        // (a linear layer over a whole batch of tokens: thousands of rows, a few hundred columns) is shared by rows
        // only, since a column split would have every thread pack all of the tall A
        int nSplit = m >= 4 * n ? 1 : Math.min(threads, Math.max(1, nPanels / 2));
        int mSplit = Math.max(1, Math.min(mPanels, threads / nSplit));
        par.forChunks(nSplit * mSplit, threads, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int ns = t / mSplit, ms = t % mSplit;
                int jp0 = (int) ((long) nPanels * ns / nSplit), jp1 = (int) ((long) nPanels * (ns + 1) / nSplit);
                int ip0 = (int) ((long) mPanels * ms / mSplit), ip1 = (int) ((long) mPanels * (ms + 1) / mSplit);
                block(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc, ip0, ip1, jp0, jp1);
            }
        });
    }

    /**
     * Row panels [ip0, ip1) × column panels [jp0, jp1) of C on this thread: for each NC-wide block, B (all of K) is
     * packed once; then each MC-row block runs the K slices innermost, packing its small A slice each time, so that
     * packed A and the MC×NC block of C stay in this core's cache.
     */
    private static void block(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int ao, int lda,
                              float[] b, int bo, int ldb, float[] c, int co, int ldc, int ip0, int ip1, int jp0, int jp1) {
        float[] ap = scratch(PACK_A, MC * Math.min(KC, k));
        float[] bp = scratch(PACK_B, Math.min(NC, (jp1 - jp0) * NR) * k);
        for (int jq = jp0; jq < jp1; jq += NC / NR) {
            int jqEnd = Math.min(jp1, jq + NC / NR), jc = jq * NR, nc = Math.min(n, jqEnd * NR) - jc;
            int ncp = (jqEnd - jq) * NR;
            for (int pc = 0; pc < k; pc += KC) packB(tb, b, bo, ldb, pc, Math.min(KC, k - pc), jc, nc, bp, pc * ncp);
            for (int ic = ip0 * MR; ic < Math.min(m, ip1 * MR); ic += MC) {
                int mc = Math.min(MC, Math.min(m, ip1 * MR) - ic);
                for (int pc = 0; pc < k; pc += KC) {
                    int kc = Math.min(KC, k - pc);
                    if (ta && alpha == 1f) {
                        // a transposed A already has the packed layout, MR rows side by side at each p: read in place
                        // (the weight gradient dYᵀ·X of every linear layer); only a ragged last panel is packed
                        macro(mc, kc, nc, a, ao + pc * lda + ic, 1, lda, ap, bp, pc * ncp, c, co + ic * ldc + jc, ldc);
                    } else {
                        packA(ta, alpha, a, ao, lda, ic, mc, pc, kc, ap, 0);
                        macro(mc, kc, nc, ap, 0, kc, MR, null, bp, pc * ncp, c, co + ic * ldc + jc, ldc);
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
     * One MC×KC block of A against one K slice of the packed B panels of an NC-wide block. A's row panel starting at
     * row i is at ap[aBase + i·rowStep], its element (r, p) at +p·aps + r: packed (rowStep kc, aps MR) or a transposed
     * A read in place (rowStep 1, aps lda, spare non-null), whose ragged last panel is packed into {@code spare}.
     */
    private static void macro(int mc, int kc, int nc, float[] ap, int aBase, int rowStep, int aps, float[] spare,
                              float[] bp, int bBase, float[] c, int co, int ldc) {
        int panels = (nc + NR - 1) / NR, aPanels = (mc + MR - 1) / MR, lines = NR * kc / 16;
        float touch = 0f;
        for (int q = 0; q * NR < nc; q++) {
            int j = q * NR, nr = Math.min(NR, nc - j);
            int bOff = bBase + q * NR * kc;
            int next = q + 1 < panels ? bOff + NR * kc : -1;
            for (int i = 0; i < mc; i += MR) {
                if (next >= 0) {
                    // Java has no prefetch instruction: read one float per cache line of the next B panel, a slice
                    // per kernel call, so that it is on its way from L3 before the kernels need it (BENCHMARKS.md)
                    int ip = i / MR, l0 = lines * ip / aPanels, l1 = lines * (ip + 1) / aPanels;
                    for (int l = l0; l < l1; l++) touch += bp[next + l * 16];
                }
                int mr = Math.min(MR, mc - i);
                int cOff = co + i * ldc + j;
                float[] pa = ap;
                int pao = aBase + i * rowStep, pas = aps;
                if (mr < MR && spare != null) {
                    // in place, the panel would read past A's last row: pack it, zero-padded
                    packPanelT(ap, aBase + i, aps, mr, kc, spare);
                    pa = spare;
                    pao = 0;
                    pas = MR;
                }
                if (mr == MR && nr == NR) {
                    kernelK(kc, pa, pao, pas, bp, bOff, c, cOff, ldc);
                } else {
                    // ragged edge: full tile into scratch (A and B are zero-padded), valid part added to C
                    float[] tile = TILE.get();
                    Arrays.fill(tile, 0f);
                    kernelK(kc, pa, pao, pas, bp, bOff, tile, 0, NR);
                    for (int r = 0; r < mr; r++) {
                        int cr = cOff + r * ldc;
                        for (int x = 0; x < nr; x++) c[cr + x] += tile[r * NR + x];
                    }
                }
            }
        }
        sink = touch; // keeps the touching reads alive
    }

    /** Written once per macro call so that the JIT cannot drop the reads of the next B panel. */
    static float sink;

    /** Packs the mr (< MR) rows of a transposed A at a[src] (element (r, p) at src + p·lda + r) as one zero-padded panel. */
    private static void packPanelT(float[] a, int src, int lda, int mr, int kc, float[] ap) {
        for (int p = 0; p < kc; p++) {
            int s = src + p * lda, d = p * MR;
            System.arraycopy(a, s, ap, d, mr);
            Arrays.fill(ap, d + mr, d + MR, 0f);
        }
    }

    /** Packs alpha·op(A)[ic : ic+mc, pc : pc+kc] at ap[dst] into MR-row panels (panel-major, p-major inside), zero-padded. */
    static void packA(boolean ta, float alpha, float[] a, int ao, int lda, int ic, int mc, int pc, int kc, float[] ap, int dst) {
        for (int i = 0; i < mc; i += MR) {
            int mr = Math.min(MR, mc - i), base = dst + i * kc;
            if (ta) {
                for (int p = 0; p < kc; p++) {
                    int src = ao + (pc + p) * lda + ic + i, d = base + p * MR;
                    for (int r = 0; r < mr; r++) ap[d + r] = alpha * a[src + r];
                    for (int r = mr; r < MR; r++) ap[d + r] = 0f;
                }
            } else {
                for (int r = 0; r < MR; r++) {
                    if (r < mr) {
                        int src = ao + (ic + i + r) * lda + pc;
                        for (int p = 0; p < kc; p++) ap[base + p * MR + r] = alpha * a[src + p];
                    } else {
                        for (int p = 0; p < kc; p++) ap[base + p * MR + r] = 0f;
                    }
                }
            }
        }
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
                    System.arraycopy(b, src + q * NR, bp, d, w);
                    for (int x = w; x < NR; x++) bp[d + x] = 0f;
                }
            }
        } else {
            // op(B)(p, j) = b[j·ldb + p]: each row j of b is contiguous in p
            for (int j = 0; j < panels * NR; j++) {
                int q = j / NR, x = j % NR, d = dst + q * NR * kc + x;
                if (j < nc) {
                    int src = bo + (j0 + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) bp[d + p * NR] = b[src + p];
                } else {
                    for (int p = 0; p < kc; p++) bp[d + p * NR] = 0f;
                }
            }
        }
    }

    // BEGIN GENERATED KERNEL (gen-kernel.py 12 2 2)
    /** C[MR, NR] += Ap·Bp for Ap element (r, p) at ap[ao + p·aps + r] and Bp p-major NR wide: MR=12, NR=2·VL, k unrolled by 2. */
    static void kernelK(int kc, float[] ap, int ao, int aps, float[] bp, int bo, float[] c, int co, int ldc) {
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
        int p = 0;
        for (; p + 2 <= kc; p += 2) { // unrolled: loop bookkeeping would otherwise take FMA-port slots
            {
                int b = bo + (p + 0) * NR, a = ao + (p + 0) * aps;
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
                int b = bo + (p + 1) * NR, a = ao + (p + 1) * aps;
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
            int b = bo + (p) * NR, a = ao + (p) * aps;
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
        c00.add(FloatVector.fromArray(S, c, co + 0 * ldc + 0 * VL)).intoArray(c, co + 0 * ldc + 0 * VL);
        c01.add(FloatVector.fromArray(S, c, co + 0 * ldc + 1 * VL)).intoArray(c, co + 0 * ldc + 1 * VL);
        c10.add(FloatVector.fromArray(S, c, co + 1 * ldc + 0 * VL)).intoArray(c, co + 1 * ldc + 0 * VL);
        c11.add(FloatVector.fromArray(S, c, co + 1 * ldc + 1 * VL)).intoArray(c, co + 1 * ldc + 1 * VL);
        c20.add(FloatVector.fromArray(S, c, co + 2 * ldc + 0 * VL)).intoArray(c, co + 2 * ldc + 0 * VL);
        c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + 1 * VL)).intoArray(c, co + 2 * ldc + 1 * VL);
        c30.add(FloatVector.fromArray(S, c, co + 3 * ldc + 0 * VL)).intoArray(c, co + 3 * ldc + 0 * VL);
        c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + 1 * VL)).intoArray(c, co + 3 * ldc + 1 * VL);
        c40.add(FloatVector.fromArray(S, c, co + 4 * ldc + 0 * VL)).intoArray(c, co + 4 * ldc + 0 * VL);
        c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + 1 * VL)).intoArray(c, co + 4 * ldc + 1 * VL);
        c50.add(FloatVector.fromArray(S, c, co + 5 * ldc + 0 * VL)).intoArray(c, co + 5 * ldc + 0 * VL);
        c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + 1 * VL)).intoArray(c, co + 5 * ldc + 1 * VL);
        c60.add(FloatVector.fromArray(S, c, co + 6 * ldc + 0 * VL)).intoArray(c, co + 6 * ldc + 0 * VL);
        c61.add(FloatVector.fromArray(S, c, co + 6 * ldc + 1 * VL)).intoArray(c, co + 6 * ldc + 1 * VL);
        c70.add(FloatVector.fromArray(S, c, co + 7 * ldc + 0 * VL)).intoArray(c, co + 7 * ldc + 0 * VL);
        c71.add(FloatVector.fromArray(S, c, co + 7 * ldc + 1 * VL)).intoArray(c, co + 7 * ldc + 1 * VL);
        c80.add(FloatVector.fromArray(S, c, co + 8 * ldc + 0 * VL)).intoArray(c, co + 8 * ldc + 0 * VL);
        c81.add(FloatVector.fromArray(S, c, co + 8 * ldc + 1 * VL)).intoArray(c, co + 8 * ldc + 1 * VL);
        c90.add(FloatVector.fromArray(S, c, co + 9 * ldc + 0 * VL)).intoArray(c, co + 9 * ldc + 0 * VL);
        c91.add(FloatVector.fromArray(S, c, co + 9 * ldc + 1 * VL)).intoArray(c, co + 9 * ldc + 1 * VL);
        c100.add(FloatVector.fromArray(S, c, co + 10 * ldc + 0 * VL)).intoArray(c, co + 10 * ldc + 0 * VL);
        c101.add(FloatVector.fromArray(S, c, co + 10 * ldc + 1 * VL)).intoArray(c, co + 10 * ldc + 1 * VL);
        c110.add(FloatVector.fromArray(S, c, co + 11 * ldc + 0 * VL)).intoArray(c, co + 11 * ldc + 0 * VL);
        c111.add(FloatVector.fromArray(S, c, co + 11 * ldc + 1 * VL)).intoArray(c, co + 11 * ldc + 1 * VL);
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
                    for (int i = 0; i < m; i++) c[co + i * ldc + j] += alpha * dot(rows, ro + i * rs, b, bo + j * ldb, k);
            } else {
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) axpy(alpha * rows[ro + i * rs + p], b, bo + p * ldb + j0, c, co + i * ldc + j0, j1 - j0);
            }
        });
    }

    /** Σ x[xo + p]·y[yo + p] over p < len. */
    static float dot(float[] x, int xo, float[] y, int yo, int len) {
        FloatVector acc = FloatVector.zero(S);
        int p = 0;
        for (; p <= len - VL; p += VL) acc = FloatVector.fromArray(S, x, xo + p).fma(FloatVector.fromArray(S, y, yo + p), acc);
        float s = acc.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        for (; p < len; p++) s += x[xo + p] * y[yo + p];
        return s;
    }

    /** y[yo + j] += alpha·x[xo + j] over j < len. */
    static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int len) {
        FloatVector av = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (; j <= len - VL; j += VL) FloatVector.fromArray(S, x, xo + j).fma(av, FloatVector.fromArray(S, y, yo + j)).intoArray(y, yo + j);
        for (; j < len; j++) y[yo + j] += alpha * x[xo + j];
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
