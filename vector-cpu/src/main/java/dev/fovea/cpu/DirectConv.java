package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Direct stride-1 convolution for layers with few channels (LeNet-5's C1 and C3, image filters), where im2col + GEMM
 * spends its time copying and in GEMMs too thin for the register tile. The image is copied once into a zero-padded
 * buffer; vectors run along output rows.
 *
 * <p>Forward: a tile of 4 output channels × 2 output rows × one 16-wide row segment lives in 8 accumulators; each
 * tap loads two input segments and four broadcast weights. Backward-data is the same kernel on dy with the
 * weights flipped and transposed (a full correlation). Backward-filter keeps a row of up to 5 taps for 2 output
 * channels in registers and streams dy and the input past them.
 */
final class DirectConv {
    private DirectConv() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    /** Output channels per forward tile; weights are packed in blocks of this many. */
    static final int OB = 4;
    /** Taps per backward-filter row pass. */
    static final int TB = 5;

    /**
     * Worth using: stride 1, small kernels and few channels per group (a GEMM would be too thin to pay); not for
     * 1×1 unpadded kernels, where the input already is the GEMM's matrix.
     */
    static boolean applies(Conv.Geo g) {
        return !g.inputIsColumns() && g.s().strideH() == 1 && g.s().strideW() == 1 && g.kh() <= 7 && g.kw() <= 7
                && g.cg() * g.og() <= 256 && g.s().padH() < g.kh() && g.s().padW() < g.kw();
    }

    /** Plane geometry of one call: channels, padded input size, output size, kernel. */
    record Plan(int c, int hp, int wp, int o, int oh, int ow, int kh, int kw) {
        /** Padded-input floats, with slack so that a full vector read at the end of the last row stays inside. */
        int bufSize() { return c * hp * wp + 2 * VL + kw + TB; }
        int packedSize() { return (o + OB - 1) / OB * OB * c * kh * kw; }
    }

    /** dst at dso [c, h+2ph, w+2pw] (row stride wp) ← src planes [c, h, w] at so, zero border and slack. */
    static void pad(float[] src, int so, int c, int h, int w, int ph, int pw, Plan p, float[] dst, int dso) {
        Arrays.fill(dst, dso, dso + p.bufSize(), 0f);
        for (int ci = 0; ci < c; ci++)
            for (int y = 0; y < h; y++)
                System.arraycopy(src, so + (ci * h + y) * w, dst, dso + (ci * p.hp() + y + ph) * p.wp() + pw, w);
    }

    /**
     * Packs weights as [o/OB][c][kh][kw][OB], zero for o beyond the last. Weight (oc, ci) is the kh×kw block at
     * wo + oc·strideO + ci·strideC; with {@code flip} each block is rotated by 180° (backward-data, where the roles
     * of input and output channels swap through the strides).
     */
    static void pack(float[] w, int wo, Plan p, boolean flip, int wStrideO, int wStrideC, float[] dst) {
        Arrays.fill(dst, 0, p.packedSize(), 0f);
        for (int oc = 0; oc < p.o(); oc++)
            for (int ci = 0; ci < p.c(); ci++)
                for (int ky = 0; ky < p.kh(); ky++)
                    for (int kx = 0; kx < p.kw(); kx++) {
                        int tap = flip ? (p.kh() - 1 - ky) * p.kw() + (p.kw() - 1 - kx) : ky * p.kw() + kx;
                        int src = wo + oc * wStrideO + ci * wStrideC + tap;
                        dst[((((oc / OB) * p.c() + ci) * p.kh() + ky) * p.kw() + kx) * OB + oc % OB] = w[src];
                    }
    }

    /** y planes [o, oh, ow] at yo ← correlation of padded x with packed weights, plus bias (may be null). */
    static void forward(float[] xp, Plan p, float[] wp, float[] bias, int biasOff, float[] y, int yo) {
        int oh = p.oh(), ow = p.ow(), hp = p.hp(), wpS = p.wp(), kh = p.kh(), kw = p.kw(), c = p.c();
        VectorMask<Float> tail = ow < VL ? S.indexInRange(0, ow) : null;
        for (int ob = 0; ob < p.o(); ob += OB) {
            float b0 = bias(bias, biasOff, ob, p.o()), b1 = bias(bias, biasOff, ob + 1, p.o()),
                  b2 = bias(bias, biasOff, ob + 2, p.o()), b3 = bias(bias, biasOff, ob + 3, p.o());
            int wBlock = ob / OB * c * kh * kw * OB;
            for (int oy0 = 0; oy0 < oh; oy0 += 2) {
                int oy = Math.min(oy0, Math.max(0, oh - 2)), oy1 = Math.min(oy + 1, oh - 1);
                for (int ox0 = 0; ox0 < ow; ox0 += VL) {
                    int ox = ox0 + VL > ow && ow >= VL ? ow - VL : ox0;
                    FloatVector a00 = FloatVector.broadcast(S, b0), a01 = FloatVector.broadcast(S, b1),
                                a02 = FloatVector.broadcast(S, b2), a03 = FloatVector.broadcast(S, b3);
                    FloatVector a10 = a00, a11 = a01, a12 = a02, a13 = a03;
                    for (int ci = 0; ci < c; ci++) {
                        for (int ky = 0; ky < kh; ky++) {
                            int r0 = (ci * hp + oy + ky) * wpS + ox, r1 = (ci * hp + oy1 + ky) * wpS + ox;
                            int wi = wBlock + ((ci * kh + ky) * kw) * OB;
                            for (int kx = 0; kx < kw; kx++, wi += OB) {
                                FloatVector v0 = FloatVector.fromArray(S, xp, r0 + kx), v1 = FloatVector.fromArray(S, xp, r1 + kx);
                                FloatVector w0 = FloatVector.broadcast(S, wp[wi]), w1 = FloatVector.broadcast(S, wp[wi + 1]);
                                FloatVector w2 = FloatVector.broadcast(S, wp[wi + 2]), w3 = FloatVector.broadcast(S, wp[wi + 3]);
                                a00 = v0.fma(w0, a00); a01 = v0.fma(w1, a01); a02 = v0.fma(w2, a02); a03 = v0.fma(w3, a03);
                                a10 = v1.fma(w0, a10); a11 = v1.fma(w1, a11); a12 = v1.fma(w2, a12); a13 = v1.fma(w3, a13);
                            }
                        }
                    }
                    int plane = oh * ow;
                    int d0 = yo + ob * plane + oy * ow + ox, d1 = yo + ob * plane + oy1 * ow + ox;
                    int live = Math.min(OB, p.o() - ob);
                    store(a00, y, d0, tail); store(a10, y, d1, tail);
                    if (live > 1) { store(a01, y, d0 + plane, tail); store(a11, y, d1 + plane, tail); }
                    if (live > 2) { store(a02, y, d0 + 2 * plane, tail); store(a12, y, d1 + 2 * plane, tail); }
                    if (live > 3) { store(a03, y, d0 + 3 * plane, tail); store(a13, y, d1 + 3 * plane, tail); }
                }
            }
        }
    }

    private static float bias(float[] b, int off, int oc, int o) { return b == null || oc >= o ? 0f : b[off + oc]; }

    private static void store(FloatVector v, float[] y, int at, VectorMask<Float> tail) {
        if (tail == null) v.intoArray(y, at);
        else v.intoArray(y, at, tail);
    }

    /** Images per backward-filter block: their padded inputs and gradients stay in L2. */
    static final int IMAGE_BLOCK = 16;

    /** Row stride of dy as {@link #padRows} lays it out: whole vectors. */
    static int rowStride(int ow) { return (ow + VL - 1) / VL * VL; }

    /** dst [planes, oh, rowStride(ow)] ← src planes [planes, oh, ow] at so, zeros after each row. */
    static void padRows(float[] src, int so, int planes, int oh, int ow, float[] dst, int dso) {
        int st = rowStride(ow);
        for (int r = 0; r < planes * oh; r++) {
            System.arraycopy(src, so + r * ow, dst, dso + r * st, ow);
            Arrays.fill(dst, dso + r * st + ow, dso + (r + 1) * st, 0f);
        }
    }

    /**
     * dw[oc][ci][ky][kx] += Σ_{oy,ox} dy[oc][oy][ox] · xp[ci][oy+ky][ox+kx] over a block of images (padded inputs
     * xImage floats apart, padded dy dyImage apart, so the accumulators live across the whole block): dyp from {@link #padRows}
     * (zeros past each row, so whole vectors can be used: lanes past the row multiply finite inputs by zero).
     * The sums stay in lanes: dwl holds VL partial sums per weight of dw [o, c, kh, kw] (weight index dwo +
     * oc·dwStrideO + ...), reduced once by {@link #reduceLanes} after all images, since a reduction per row costs
     * more than the row's FMAs in thin layers.
     */
    static void backwardFilter(float[] xp, int xImage, float[] dyp, int dyImage, int images, Plan p, float[] dwl, int dwo, int dwStrideO) {
        int oh = p.oh(), hp = p.hp(), wpS = p.wp(), kh = p.kh(), kw = p.kw(), st = rowStride(p.ow());
        int plane = oh * st;
        for (int oc = 0; oc < p.o(); oc += 2) {
            int oc1 = Math.min(oc + 1, p.o() - 1);
            boolean pair = oc1 != oc;
            for (int ci = 0; ci < p.c(); ci++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx0 = 0; kx0 < kw; kx0 += TB) {
                        FloatVector s00 = FloatVector.zero(S), s01 = s00, s02 = s00, s03 = s00, s04 = s00;
                        FloatVector s10 = s00, s11 = s00, s12 = s00, s13 = s00, s14 = s00;
                        for (int im = 0; im < images; im++)
                        for (int oy = 0; oy < oh; oy++) {
                            int row = im * xImage + (ci * hp + oy + ky) * wpS + kx0;
                            int dr0 = im * dyImage + oc * plane + oy * st, dr1 = im * dyImage + oc1 * plane + oy * st;
                            for (int ox = 0; ox < st; ox += VL) {
                                FloatVector d0 = FloatVector.fromArray(S, dyp, dr0 + ox), d1 = FloatVector.fromArray(S, dyp, dr1 + ox);
                                int r = row + ox;
                                FloatVector x0 = FloatVector.fromArray(S, xp, r), x1 = FloatVector.fromArray(S, xp, r + 1),
                                            x2 = FloatVector.fromArray(S, xp, r + 2), x3 = FloatVector.fromArray(S, xp, r + 3),
                                            x4 = FloatVector.fromArray(S, xp, r + 4);
                                s00 = d0.fma(x0, s00); s01 = d0.fma(x1, s01); s02 = d0.fma(x2, s02); s03 = d0.fma(x3, s03); s04 = d0.fma(x4, s04);
                                s10 = d1.fma(x0, s10); s11 = d1.fma(x1, s11); s12 = d1.fma(x2, s12); s13 = d1.fma(x3, s13); s14 = d1.fma(x4, s14);
                            }
                        }
                        int taps = Math.min(TB, kw - kx0);
                        int t0 = (dwo + oc * dwStrideO + (ci * kh + ky) * kw + kx0) * VL, t1 = (dwo + oc1 * dwStrideO + (ci * kh + ky) * kw + kx0) * VL;
                        addLanes(dwl, t0, s00);
                        if (taps > 1) addLanes(dwl, t0 + VL, s01);
                        if (taps > 2) addLanes(dwl, t0 + 2 * VL, s02);
                        if (taps > 3) addLanes(dwl, t0 + 3 * VL, s03);
                        if (taps > 4) addLanes(dwl, t0 + 4 * VL, s04);
                        if (!pair) continue;
                        addLanes(dwl, t1, s10);
                        if (taps > 1) addLanes(dwl, t1 + VL, s11);
                        if (taps > 2) addLanes(dwl, t1 + 2 * VL, s12);
                        if (taps > 3) addLanes(dwl, t1 + 3 * VL, s13);
                        if (taps > 4) addLanes(dwl, t1 + 4 * VL, s14);
                    }
        }
    }

    private static void addLanes(float[] a, int at, FloatVector v) {
        FloatVector.fromArray(S, a, at).add(v).intoArray(a, at);
    }

    /** dw[i] = Σ of the VL lane sums of weight i in dwl. */
    static void reduceLanes(float[] dwl, float[] dw) {
        for (int i = 0; i < dw.length; i++) dw[i] = FloatVector.fromArray(S, dwl, i * VL).reduceLanes(VectorOperators.ADD);
    }
}
