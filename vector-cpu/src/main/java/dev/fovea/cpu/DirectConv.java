package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Direct stride-1 convolution for layers with few channels (LeNet-5's C1 and C3, image filters), where im2col + GEMM
 * spends its time copying and in GEMMs too thin for the register tile. The image is copied once into a zero-padded
 * buffer; vectors run along output rows.
 *
 * <p>Forward: a tile of 4 output channels × 2 vectors of output positions lives in 8 accumulators; each tap loads two
 * input vectors and broadcasts four weights. Where blocks of 3 channels waste fewer than blocks of 4 (LeNet-5's 6
 * maps: C1's output, C3's input) and there are 32 vector registers, the tile is 3 channels × 4 vectors in 12
 * accumulators (a broadcast per 4 FMAs). Backward-data is the same kernel on dy with the
 * weights flipped and transposed (a full correlation). Backward-filter keeps a row of up to 5 taps for 2 output
 * channels in registers and streams dy and the input past them; for 5-wide kernels whose output channels fill
 * whole vectors (C3), it runs its vectors along the channels instead.
 */
final class DirectConv {
    private DirectConv() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    /** Output channels per forward tile (see {@link #block}); weights are packed in blocks of this many. */
    static final int OB = 4, OB3 = 3;
    /** Taps per backward-filter row pass. */
    static final int TB = 5;

    /**
     * Worth using: stride 1, small kernels and few channels per group (a GEMM would be too thin to pay); not for
     * 1×1 unpadded kernels over all channels, where the input already is the GEMM's matrix (but for depthwise
     * ones, where each group's GEMM would be a single row).
     */
    static boolean applies(Conv.Geo g) {
        return !(g.inputIsColumns() && g.g() == 1) && g.s().strideH() == 1 && g.s().strideW() == 1 && g.kh() <= 7 && g.kw() <= 7
                && g.cg() * g.og() <= 256 && g.s().padH() < g.kh() && g.s().padW() < g.kw();
    }

    /** Plane geometry of one call: channels, padded input size, output size, kernel. */
    record Plan(int c, int hp, int wp, int o, int oh, int ow, int kh, int kw) {
        /** Padded-input floats, with slack so that a full vector read at the end of the last row stays inside. */
        int bufSize() { return c * hp * wp + 4 * VL + kw + TB; }
        int packedSize() { int b = block(o); return (o + b - 1) / b * b * c * kh * kw; }
    }

    /**
     * Forward tile's channels for o output channels: 3 (× 4 vectors) where blocks of 3 leave fewer idle channels than
     * blocks of 4 (× 2 vectors), if the machine has the 32 vector registers (AVX-512) that its 12 accumulators, 4
     * inputs and 3 weights need; else 4.
     */
    static int block(int o) {
        return VL >= 16 && (o + OB3 - 1) / OB3 * OB3 < (o + OB - 1) / OB * OB ? OB3 : OB;
    }

    /** dst at dso [c, h+2ph, w+2pw] (row stride wp) ← src planes [c, h, w] at so, zero border and slack. */
    static void pad(float[] src, int so, int c, int h, int w, int ph, int pw, Plan p, float[] dst, int dso) {
        Arrays.fill(dst, dso, dso + p.bufSize(), 0f);
        for (int ci = 0; ci < c; ci++)
            for (int y = 0; y < h; y++)
                System.arraycopy(src, so + (ci * h + y) * w, dst, dso + (ci * p.hp() + y + ph) * p.wp() + pw, w);
    }

    /**
     * Packs weights as [o/b][c][kh][kw][b] for b = {@link #block}(o), zero for o beyond the last. Weight (oc, ci) is the kh×kw block at
     * wo + oc·strideO + ci·strideC; with {@code flip} each block is rotated by 180° (backward-data, where the roles
     * of input and output channels swap through the strides).
     */
    static void pack(float[] w, int wo, Plan p, boolean flip, int wStrideO, int wStrideC, float[] dst) {
        Arrays.fill(dst, 0, p.packedSize(), 0f);
        int b = block(p.o());
        for (int oc = 0; oc < p.o(); oc++)
            for (int ci = 0; ci < p.c(); ci++)
                for (int ky = 0; ky < p.kh(); ky++)
                    for (int kx = 0; kx < p.kw(); kx++) {
                        int tap = flip ? (p.kh() - 1 - ky) * p.kw() + (p.kw() - 1 - kx) : ky * p.kw() + kx;
                        int src = wo + oc * wStrideO + ci * wStrideC + tap;
                        dst[((((oc / b) * p.c() + ci) * p.kh() + ky) * p.kw() + kx) * b + oc % b] = w[src];
                    }
    }

    /** Floats of the forward's flat output for one block of channels (see {@link #forward}). */
    static int flatSize(Plan p) { return block(p.o()) * flatLength(p); }

    /** Flat output positions, rounded up to whole tiles: 2 vectors a tile for blocks of 4 channels, 4 for blocks of 3. */
    private static int flatLength(Plan p) {
        int span = (block(p.o()) == OB ? 2 : 4) * VL;
        return (p.oh() * p.wp() + span - 1) / span * span;
    }

    /**
     * y planes [o, oh, ow] at yo ← correlation of padded x with packed weights, plus bias (may be null).
     * The output is computed flat: position q = oy·wp + ox reads xp[q + ky·wp + kx] for every q, so one loop runs over
     * all rows a tile at a time (4 channels × 2 vectors, or 3 × 4: {@link #block}); the columns ox ≥ ow of each
     * row are wrap-around garbage, dropped when the rows are copied from {@code flat} (flatSize floats) into y.
     */
    static void forward(float[] xp, Plan p, float[] wp, float[] bias, int biasOff, float[] y, int yo, float[] flat) {
        if (block(p.o()) == OB3) forward3(xp, p, wp, bias, biasOff, y, yo, flat);
        else forward4(xp, p, wp, bias, biasOff, y, yo, flat);
    }

    /** 4 channels × 2 vectors a tile. */
    private static void forward4(float[] xp, Plan p, float[] wp, float[] bias, int biasOff, float[] y, int yo, float[] flat) {
        int hp = p.hp(), rs = p.wp(), kh = p.kh(), kw = p.kw(), c = p.c();
        int len = flatLength(p);
        for (int ob = 0; ob < p.o(); ob += OB) {
            float b0 = bias(bias, biasOff, ob, p.o()), b1 = bias(bias, biasOff, ob + 1, p.o()),
                  b2 = bias(bias, biasOff, ob + 2, p.o()), b3 = bias(bias, biasOff, ob + 3, p.o());
            int wBlock = ob / OB * c * kh * kw * OB;
            for (int q = 0; q < len; q += 2 * VL) {
                FloatVector a00 = FloatVector.broadcast(S, b0), a01 = FloatVector.broadcast(S, b1),
                            a02 = FloatVector.broadcast(S, b2), a03 = FloatVector.broadcast(S, b3);
                FloatVector a10 = a00, a11 = a01, a12 = a02, a13 = a03;
                for (int ci = 0; ci < c; ci++) {
                    for (int ky = 0; ky < kh; ky++) {
                        int r0 = (ci * hp + ky) * rs + q;
                        int wi = wBlock + ((ci * kh + ky) * kw) * OB;
                        for (int kx = 0; kx < kw; kx++, wi += OB) {
                            FloatVector v0 = FloatVector.fromArray(S, xp, r0 + kx), v1 = FloatVector.fromArray(S, xp, r0 + kx + VL);
                            FloatVector w0 = FloatVector.broadcast(S, wp[wi]), w1 = FloatVector.broadcast(S, wp[wi + 1]);
                            FloatVector w2 = FloatVector.broadcast(S, wp[wi + 2]), w3 = FloatVector.broadcast(S, wp[wi + 3]);
                            a00 = v0.fma(w0, a00); a01 = v0.fma(w1, a01); a02 = v0.fma(w2, a02); a03 = v0.fma(w3, a03);
                            a10 = v1.fma(w0, a10); a11 = v1.fma(w1, a11); a12 = v1.fma(w2, a12); a13 = v1.fma(w3, a13);
                        }
                    }
                }
                a00.intoArray(flat, q); a10.intoArray(flat, q + VL);
                a01.intoArray(flat, len + q); a11.intoArray(flat, len + q + VL);
                a02.intoArray(flat, 2 * len + q); a12.intoArray(flat, 2 * len + q + VL);
                a03.intoArray(flat, 3 * len + q); a13.intoArray(flat, 3 * len + q + VL);
            }
            keepRows(flat, len, p, ob, OB, y, yo);
        }
    }

    /**
     * 3 channels × 4 vectors a tile: each tap loads four input vectors and broadcasts three weights for 12 FMAs, each
     * input vector meeting the three weights as soon as it is loaded.
     */
    private static void forward3(float[] xp, Plan p, float[] wp, float[] bias, int biasOff, float[] y, int yo, float[] flat) {
        int hp = p.hp(), rs = p.wp(), kh = p.kh(), kw = p.kw(), c = p.c();
        int len = flatLength(p);
        for (int ob = 0; ob < p.o(); ob += OB3) {
            float b0 = bias(bias, biasOff, ob, p.o()), b1 = bias(bias, biasOff, ob + 1, p.o()), b2 = bias(bias, biasOff, ob + 2, p.o());
            int wBlock = ob / OB3 * c * kh * kw * OB3;
            for (int q = 0; q < len; q += 4 * VL) {
                // a<channel><vector>
                FloatVector a00 = FloatVector.broadcast(S, b0), a10 = FloatVector.broadcast(S, b1), a20 = FloatVector.broadcast(S, b2);
                FloatVector a01 = a00, a02 = a00, a03 = a00, a11 = a10, a12 = a10, a13 = a10, a21 = a20, a22 = a20, a23 = a20;
                for (int ci = 0; ci < c; ci++) {
                    for (int ky = 0; ky < kh; ky++) {
                        int r0 = (ci * hp + ky) * rs + q;
                        int wi = wBlock + ((ci * kh + ky) * kw) * OB3;
                        for (int kx = 0; kx < kw; kx++, wi += OB3) {
                            FloatVector w0 = FloatVector.broadcast(S, wp[wi]), w1 = FloatVector.broadcast(S, wp[wi + 1]), w2 = FloatVector.broadcast(S, wp[wi + 2]);
                            int r = r0 + kx;
                            FloatVector v = FloatVector.fromArray(S, xp, r);
                            a00 = v.fma(w0, a00); a10 = v.fma(w1, a10); a20 = v.fma(w2, a20);
                            v = FloatVector.fromArray(S, xp, r + VL);
                            a01 = v.fma(w0, a01); a11 = v.fma(w1, a11); a21 = v.fma(w2, a21);
                            v = FloatVector.fromArray(S, xp, r + 2 * VL);
                            a02 = v.fma(w0, a02); a12 = v.fma(w1, a12); a22 = v.fma(w2, a22);
                            v = FloatVector.fromArray(S, xp, r + 3 * VL);
                            a03 = v.fma(w0, a03); a13 = v.fma(w1, a13); a23 = v.fma(w2, a23);
                        }
                    }
                }
                a00.intoArray(flat, q); a01.intoArray(flat, q + VL); a02.intoArray(flat, q + 2 * VL); a03.intoArray(flat, q + 3 * VL);
                a10.intoArray(flat, len + q); a11.intoArray(flat, len + q + VL); a12.intoArray(flat, len + q + 2 * VL); a13.intoArray(flat, len + q + 3 * VL);
                a20.intoArray(flat, 2 * len + q); a21.intoArray(flat, 2 * len + q + VL); a22.intoArray(flat, 2 * len + q + 2 * VL); a23.intoArray(flat, 2 * len + q + 3 * VL);
            }
            keepRows(flat, len, p, ob, OB3, y, yo);
        }
    }

    /** y's planes ob.. of the block ← the first ow columns of each row of the flat output (the rest is wrap-around). */
    private static void keepRows(float[] flat, int len, Plan p, int ob, int block, float[] y, int yo) {
        int oh = p.oh(), ow = p.ow(), plane = oh * ow, live = Math.min(block, p.o() - ob);
        for (int j = 0; j < live; j++)
            for (int oy = 0; oy < oh; oy++)
                System.arraycopy(flat, j * len + oy * p.wp(), y, yo + (ob + j) * plane + oy * ow, ow);
    }

    private static float bias(float[] b, int off, int oc, int o) { return b == null || oc >= o ? 0f : b[off + oc]; }

    /** Images per backward-filter block: their padded inputs and gradients stay in L2. */
    static final int IMAGE_BLOCK = 16;

    /** A row length rounded up to whole vectors. */
    static int rowStride(int ow) { return (ow + VL - 1) / VL * VL; }

    /** dst at dso [planes, oh, stride] ← src planes [planes, oh, ow] at so, zeros after each row. */
    static void padRows(float[] src, int so, int planes, int oh, int ow, int stride, float[] dst, int dso) {
        for (int r = 0; r < planes * oh; r++) {
            System.arraycopy(src, so + r * ow, dst, dso + r * stride, ow);
            Arrays.fill(dst, dso + r * stride + ow, dso + (r + 1) * stride, 0f);
        }
    }

    /**
     * dw[oc][ci][ky][kx] += Σ_{oy,ox} dy[oc][oy][ox] · xp[ci][oy+ky][ox+kx] over a block of images. The padded
     * inputs (xImage floats apart) and dy (dyImage apart, from {@link #padRows}) share the row stride p.wp(), a
     * whole number of vectors, so that each (oc, ci, ky) pass is one flat loop over all of an image's rows: lanes
     * past a row's end read the next row's inputs but meet zeros in dy. Accumulators live across the whole block.
     * The sums stay in lanes: dwl holds VL partial sums per weight of dw [o, c, kh, kw] (weight index dwo +
     * oc·dwStrideO + ...), reduced once by {@link #reduceLanes} after all images, since a reduction per row costs
     * more than the row's FMAs in thin layers.
     */
    static void backwardFilter(float[] xp, int xImage, float[] dyp, int dyImage, int images, Plan p, float[] dwl, int dwo, int dwStrideO) {
        int hp = p.hp(), rs = p.wp(), kh = p.kh(), kw = p.kw();
        int plane = p.oh() * rs;
        for (int oc = 0; oc < p.o(); oc += 2) {
            int oc1 = Math.min(oc + 1, p.o() - 1);
            boolean pair = oc1 != oc;
            for (int ci = 0; ci < p.c(); ci++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx0 = 0; kx0 < kw; kx0 += TB) {
                        FloatVector s00 = FloatVector.zero(S), s01 = s00, s02 = s00, s03 = s00, s04 = s00;
                        FloatVector s10 = s00, s11 = s00, s12 = s00, s13 = s00, s14 = s00;
                        for (int im = 0; im < images; im++) {
                            int xb = im * xImage + (ci * hp + ky) * rs + kx0, d0b = im * dyImage + oc * plane, d1b = im * dyImage + oc1 * plane;
                            for (int q = 0; q < plane; q += VL) {
                                FloatVector d0 = FloatVector.fromArray(S, dyp, d0b + q), d1 = FloatVector.fromArray(S, dyp, d1b + q);
                                int r = xb + q;
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

    /**
     * The filter gradient by {@link #backwardFilterChannels}: where the direct convolution applies, for 5-wide kernels
     * whose output channels per group fill whole vectors (LeNet-5's C3: 16 maps of 10×10 over 6 maps of 14×14), where
     * {@link #backwardFilter}'s vectors along 10-wide rows would leave 6 of 16 lanes on padding.
     */
    static boolean appliesChannels(Conv.Geo g) {
        return applies(g) && g.og() % VL == 0 && g.kw() == 5;
    }

    /**
     * dw [o, cg, kh, 5] += Σ over images [n0, n1) of dy[oc][oy][ox] · xp[ci][oy+ky][ox+kx], with vectors along the
     * output channels: dy is copied channels-last ([oy·ow+ox][oc]), so each output position is one load of VL
     * channels, met by the 5 inputs under one kernel row (see {@link #tapRow}).
     */
    static void backwardFilterChannels(float[] x, float[] dy, Conv.Geo g, int n0, int n1, float[] dw) {
        int og = g.og(), cg = g.cg(), kh = g.kh(), sp = g.spatial(), kk = kh * 5, ph = g.s().padH(), pw = g.s().padW();
        Plan p = new Plan(cg, g.h() + 2 * ph, g.w() + 2 * pw, og, g.oh(), g.ow(), kh, 5);
        float[] xp = new float[p.bufSize()], dyT = new float[sp * og];
        float[] acc = new float[g.g() * cg * kk * og];     // [g][cg][tap][og]: the sums, channels-last
        int xs = g.c() * g.h() * g.w(), ys = g.o() * sp, plane = p.hp() * p.wp();
        for (int n = n0; n < n1; n++)
            for (int gi = 0; gi < g.g(); gi++) {
                pad(x, n * xs + gi * cg * g.h() * g.w(), cg, g.h(), g.w(), ph, pw, p, xp, 0);
                int dyo = n * ys + gi * og * sp;
                for (int oc = 0; oc < og; oc++)
                    for (int q = 0; q < sp; q++) dyT[q * og + oc] = dy[dyo + oc * sp + q];
                for (int ob = 0; ob < og; ob += VL)
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            tapRow(xp, ci * plane + ky * p.wp(), p.wp(), dyT, og, ob, g.oh(), g.ow(), acc, ((gi * cg + ci) * kk + ky * 5) * og + ob);
            }
        for (int gi = 0; gi < g.g(); gi++)
            for (int oc = 0; oc < og; oc++)
                for (int ci = 0; ci < cg; ci++)
                    for (int t = 0; t < kk; t++) dw[((gi * og + oc) * cg + ci) * kk + t] += acc[((gi * cg + ci) * kk + t) * og + oc];
    }

    /**
     * acc[ao + kx·og .. + VL) += Σ over positions of dyT[oy·ow+ox][ob .. ob+VL) · xp[xo + oy·rs + ox + kx], kx < 5: one
     * kernel row's taps. Along a row the 5 inputs under the kernel slide by one per position, so each position
     * broadcasts one new input for its 5 FMAs (a broadcast per FMA would bound it at half the FMA rate).
     */
    private static void tapRow(float[] xp, int xo, int rs, float[] dyT, int og, int ob, int oh, int ow, float[] acc, int ao) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0, s4 = s0;
        for (int oy = 0; oy < oh; oy++) {
            int r = xo + oy * rs, d = oy * ow * og + ob;
            FloatVector b0 = bc(xp[r]), b1 = bc(xp[r + 1]), b2 = bc(xp[r + 2]), b3 = bc(xp[r + 3]);
            for (int ox = 0; ox < ow; ox++, d += og) {
                FloatVector b4 = bc(xp[r + ox + 4]), v = FloatVector.fromArray(S, dyT, d);
                s0 = v.fma(b0, s0); s1 = v.fma(b1, s1); s2 = v.fma(b2, s2); s3 = v.fma(b3, s3); s4 = v.fma(b4, s4);
                b0 = b1; b1 = b2; b2 = b3; b3 = b4;
            }
        }
        addLanes(acc, ao, s0); addLanes(acc, ao + og, s1); addLanes(acc, ao + 2 * og, s2); addLanes(acc, ao + 3 * og, s3); addLanes(acc, ao + 4 * og, s4);
    }

    private static FloatVector bc(float x) { return FloatVector.broadcast(S, x); }

    private static void addLanes(float[] a, int at, FloatVector v) {
        FloatVector.fromArray(S, a, at).add(v).intoArray(a, at);
    }

    /** dw[i] = Σ of the VL lane sums of weight i in dwl. */
    static void reduceLanes(float[] dwl, float[] dw) {
        for (int i = 0; i < dw.length; i++) {
            float s = 0f;
            for (int l = 0; l < VL; l++) s += dwl[i * VL + l];
            dw[i] = s;
        }
    }
}
