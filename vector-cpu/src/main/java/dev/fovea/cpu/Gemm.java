package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision GEMM on row-major arrays, C ← alpha·op(A)·op(B) + beta·C, in the GotoBLAS/BLIS shape:
 * N is cut into NC-wide blocks whose whole K×NC slab of B is packed once into NR-wide panels; M into MC-row
 * blocks, each packed per KC-deep slice into MR-tall panels of A; a register-tiled micro-kernel of MR×NR FMAs
 * runs over the panels. K-slices run innermost so that the C block a thread updates stays in its L2.
 * Threads split the M blocks (and, when M is short, the N panels). {@link #scalar} is the plain twin.
 *
 * <p>The micro-kernel below is generated (vector-cpu/gen-kernel.py) so its accumulators stay in registers:
 * C2 keeps local FloatVectors in registers only when they are named variables in one method.
 */
final class Gemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    static final int MR = 8;
    static final int NR = 2 * VL;
    static final int KC = 256;
    static final int MC = 128;
    static final int NC = 1024;

    private static final ThreadLocal<float[]> PACK_A = ThreadLocal.withInitial(() -> new float[MC * KC]);
    private static final ThreadLocal<float[]> PACK_B = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * NR]);

    private Gemm() {}

    /** Element (i, p) of op(A) is {@code ta ? a[ao + p·lda + i] : a[ao + i·lda + p]}; likewise for B and C. */
    static void sgemm(Parallel par, boolean ta, boolean tb, int m, int n, int k, float alpha,
                      float[] a, int ao, int lda, float[] b, int bo, int ldb,
                      float beta, float[] c, int co, int ldc) {
        if (m == 0 || n == 0) return;
        scaleC(m, n, beta, c, co, ldc);
        if (k == 0 || alpha == 0) return;
        if ((long) m * n * k < 4096) {
            scalarAccumulate(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, c, co, ldc);
            return;
        }
        int mBlocks = (m + MC - 1) / MC;
        int threads = par.threads();
        int kBlocks = (k + KC - 1) / KC;
        for (int jc = 0; jc < n; jc += NC) {
            final int nc = Math.min(NC, n - jc), jcf = jc;
            final int nPanels = (nc + NR - 1) / NR;
            // the whole K×nc block of B, packed once: K-block pc starts at pc·nPanels·NR, panel jp at +jp·NR·kc
            float[] bp = packedB(nPanels * NR * k);
            par.forRange(kBlocks * nPanels, 16, (t0, t1) -> {
                for (int t = t0; t < t1; t++) {
                    int pb = t / nPanels, jp = t % nPanels, pc = pb * KC, kc = Math.min(KC, k - pc);
                    packB(tb, b, bo, ldb, pc, kc, jcf + jp * NR, Math.min(NR, nc - jp * NR), bp, pc * nPanels * NR + jp * NR * kc);
                }
            });
            // threads take M blocks (and, when M is short, slices of the N panels); K-blocks run innermost so that
            // a thread's C block stays in its L2 from the first K-block to the last
            int nSplit = Math.max(1, Math.min(nPanels, (threads + mBlocks - 1) / mBlocks));
            int tasks = mBlocks * nSplit;
            par.forChunks(tasks, Math.min(tasks, threads), (t0, t1) -> {
                float[] ap = PACK_A.get();
                for (int t = t0; t < t1; t++) {
                    int mb = t / nSplit, ns = t % nSplit;
                    int ic = mb * MC, mc = Math.min(MC, m - ic);
                    int jp0 = (int) ((long) nPanels * ns / nSplit), jp1 = (int) ((long) nPanels * (ns + 1) / nSplit);
                    for (int pc = 0; pc < k; pc += KC) {
                        int kc = Math.min(KC, k - pc);
                        packA(ta, alpha, a, ao, lda, ic, mc, pc, kc, ap);
                        macro(mc, nc, kc, jp0, jp1, ap, bp, pc * nPanels * NR, c, co + ic * ldc + jcf, ldc);
                    }
                }
            });
        }
    }

    /** A scratch array for packed B of at least {@code size} floats, reused by later calls on this thread. */
    private static float[] packedB(int size) {
        float[] buf = PACK_B.get();
        if (buf.length < size) {
            buf = new float[size];
            PACK_B.set(buf);
        }
        return buf;
    }

    /** Runs the micro-kernel over one packed A block [mc × kc] and the packed B panels [jp0, jp1). */
    private static void macro(int mc, int nc, int kc, int jp0, int jp1, float[] ap, float[] bp, int bBase,
                              float[] c, int co, int ldc) {
        for (int jp = jp0; jp < jp1; jp++) {
            int j = jp * NR, nr = Math.min(NR, nc - j);
            int bOff = bBase + jp * NR * kc;
            for (int i = 0; i < mc; i += MR) {
                int mr = Math.min(MR, mc - i);
                int aOff = i * kc;
                if (mr == MR && nr == NR) {
                    kernel(kc, ap, aOff, bp, bOff, c, co + i * ldc + j, ldc);
                } else {
                    // edge tile: compute a full tile into scratch and add only the valid part
                    float[] tile = TILE.get();
                    java.util.Arrays.fill(tile, 0f);
                    kernel(kc, ap, aOff, bp, bOff, tile, 0, NR);
                    for (int r = 0; r < mr; r++) {
                        int cr = co + (i + r) * ldc + j;
                        for (int q = 0; q < nr; q++) c[cr + q] += tile[r * NR + q];
                    }
                }
            }
        }
    }

    /** Packs alpha·op(A)[ic : ic+mc, pc : pc+kc] into MR-row panels: panel-major, then p, then the MR rows; pads with zeros. */
    static void packA(boolean ta, float alpha, float[] a, int ao, int lda, int ic, int mc, int pc, int kc, float[] ap) {
        for (int i = 0; i < mc; i += MR) {
            int mr = Math.min(MR, mc - i);
            int base = i * kc;
            if (ta) {
                for (int p = 0; p < kc; p++) {
                    int src = ao + (pc + p) * lda + ic + i, dst = base + p * MR;
                    for (int r = 0; r < mr; r++) ap[dst + r] = alpha * a[src + r];
                    for (int r = mr; r < MR; r++) ap[dst + r] = 0f;
                }
            } else if (mr == MR) {
                // MR row streams read together, one MR-wide column written at a time
                int src = ao + (ic + i) * lda + pc;
                for (int p = 0; p < kc; p++) {
                    int dst = base + p * MR;
                    for (int r = 0; r < MR; r++) ap[dst + r] = alpha * a[src + r * lda + p];
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    int dst = base + p * MR;
                    for (int r = 0; r < MR; r++) ap[dst + r] = r < mr ? alpha * a[ao + (ic + i + r) * lda + pc + p] : 0f;
                }
            }
        }
    }

    /** Packs op(B)[pc : pc+kc, j0 : j0+nr] into one NR-wide panel at bp[dst]: p-major, NR columns; pads with zeros. */
    static void packB(boolean tb, float[] b, int bo, int ldb, int pc, int kc, int j0, int nr, float[] bp, int dst) {
        if (!tb) {
            for (int p = 0; p < kc; p++) {
                int d = dst + p * NR;
                System.arraycopy(b, bo + (pc + p) * ldb + j0, bp, d, nr);
                for (int q = nr; q < NR; q++) bp[d + q] = 0f;
            }
        } else {
            for (int q = 0; q < NR; q++) {
                if (q < nr) {
                    int src = bo + (j0 + q) * ldb + pc;
                    for (int p = 0; p < kc; p++) bp[dst + p * NR + q] = b[src + p];
                } else {
                    for (int p = 0; p < kc; p++) bp[dst + p * NR + q] = 0f;
                }
            }
        }
    }

    /** C[MR, NR] += Ap[kc, MR]ᵀ · Bp[kc, NR] with MR=8, NR=2·VL: 16 accumulators in registers, k unrolled by 4. */
    // C is loaded first: its cache misses then overlap with the FMAs instead of stalling the stores at the end
    static void kernel(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.fromArray(S, c, co + 0 * ldc + 0 * VL); FloatVector c01 = FloatVector.fromArray(S, c, co + 0 * ldc + 1 * VL);
        FloatVector c10 = FloatVector.fromArray(S, c, co + 1 * ldc + 0 * VL); FloatVector c11 = FloatVector.fromArray(S, c, co + 1 * ldc + 1 * VL);
        FloatVector c20 = FloatVector.fromArray(S, c, co + 2 * ldc + 0 * VL); FloatVector c21 = FloatVector.fromArray(S, c, co + 2 * ldc + 1 * VL);
        FloatVector c30 = FloatVector.fromArray(S, c, co + 3 * ldc + 0 * VL); FloatVector c31 = FloatVector.fromArray(S, c, co + 3 * ldc + 1 * VL);
        FloatVector c40 = FloatVector.fromArray(S, c, co + 4 * ldc + 0 * VL); FloatVector c41 = FloatVector.fromArray(S, c, co + 4 * ldc + 1 * VL);
        FloatVector c50 = FloatVector.fromArray(S, c, co + 5 * ldc + 0 * VL); FloatVector c51 = FloatVector.fromArray(S, c, co + 5 * ldc + 1 * VL);
        FloatVector c60 = FloatVector.fromArray(S, c, co + 6 * ldc + 0 * VL); FloatVector c61 = FloatVector.fromArray(S, c, co + 6 * ldc + 1 * VL);
        FloatVector c70 = FloatVector.fromArray(S, c, co + 7 * ldc + 0 * VL); FloatVector c71 = FloatVector.fromArray(S, c, co + 7 * ldc + 1 * VL);
        int p = 0;
        // unrolled so that loop bookkeeping does not take FMA-port slots
        for (; p + 4 <= kc; p += 4) {
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
            }
            {
                int b = bo + (p + 2) * NR, a = ao + (p + 2) * MR;
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
            }
            {
                int b = bo + (p + 3) * NR, a = ao + (p + 3) * MR;
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
    }

    /** C ← beta·C; beta = 0 clears C (so NaN or garbage in C never leaks through). */
    static void scaleC(int m, int n, float beta, float[] c, int co, int ldc) {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++) {
            int r = co + i * ldc;
            if (beta == 0f) java.util.Arrays.fill(c, r, r + n, 0f);
            else for (int j = 0; j < n; j++) c[r + j] *= beta;
        }
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
