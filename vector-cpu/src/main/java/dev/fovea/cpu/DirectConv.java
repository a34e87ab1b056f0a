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
 * <p>Forward: a tile of 4 output channels × 2 vectors of output positions lives in 8 accumulators; each tap loads two
 * input vectors and broadcasts four weights. Where blocks of 3 channels waste fewer than blocks of 4 (LeNet-5's 6
 * maps: C1's output, C3's input) and there are 32 vector registers, the tile is 3 channels × 4 vectors in 12
 * accumulators (a broadcast per 4 FMAs). For 5-wide kernels whose output channels fill whole vectors (C3), the
 * forward runs its vectors along the output channels instead. Backward-data is the same kernel on dy with the
 * weights flipped and transposed (a full correlation), or, where that does less work (thin layers without much
 * padding: C1, C3), columns of weights × dy summed into the input gradient. Backward-filter keeps a row of up to 5
 * taps for 2 output channels in registers and streams dy and the input past them; for the 5-wide kernels whose
 * output channels fill whole vectors, it too runs its vectors along the channels.
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

    // ------------------------------------------------------------------ backward-data by columns

    /** Taps per backward-data column tile (the tile's rows; each a tap (ky, kx) of one input channel). */
    static final int CT = 5;

    /**
     * Geometry of backward-data by columns, for one group: cg input and og output channels, input h×w, output oh×ow,
     * kernel kh×kw, padding ph, pw. Every output position is a column, P of them rounded up to the tile's two vectors.
     */
    record Cols(int cg, int og, int h, int w, int oh, int ow, int kh, int kw, int ph, int pw) {
        static Cols of(Conv.Geo g) { return new Cols(g.cg(), g.og(), g.h(), g.w(), g.oh(), g.ow(), g.kh(), g.kw(), g.s().padH(), g.s().padW()); }
        int tiles() { return (kh * kw + CT - 1) / CT; }
        int positions() { return (oh * ow + 2 * VL - 1) / (2 * VL) * (2 * VL); }
        /** One input channel's columns, tap-major, with a vector of slack on each side for the shifted reads. */
        int colsSize() { return VL + tiles() * CT * positions() + 2 * VL; }
        int dySize() { return og * positions(); }
        /** Row stride of one input channel's padded gradient: whole vectors. */
        int dxpStride() { return rowStride(w + 2 * pw); }
        int dxpSize() { return (h + 2 * ph) * dxpStride(); }
        int packedSize() { return cg * tiles() * og * CT; }
    }

    /**
     * Whether backward-data by columns ({@link #backwardDataCols}) does less work than the full correlation
     * (forward on dy padded by k−1−pad): counted in vector lanes, its products (only where a weight block is non-zero)
     * plus the column sums at two operations a lane, against the correlation's products over the zero border and each
     * row's wrap-around. LeNet-5's C3 (10×10 outputs, 5×5 kernels, no padding, 60 of 96 blocks non-zero) does about
     * a third of the correlation's lanes; 3×3 kernels with padding 1 stay with the correlation.
     */
    static boolean colsPay(Plan correlation, Cols q, int nonZeroBlocks) {
        long corr = (long) ((correlation.o() + block(correlation.o()) - 1) / block(correlation.o()) * block(correlation.o()))
                * flatLength(correlation) * correlation.c() * correlation.kh() * correlation.kw();
        long cols = (long) nonZeroBlocks * q.tiles() * CT * q.positions()
                + 2L * q.cg() * q.h() * rowStride(q.w()) * q.kh() * q.kw();
        return cols < corr;
    }

    /**
     * Packs w [og, cg, kh, kw] (at wo, one group) as [cg][tile][og][CT], taps past kh·kw zero, and lists for each
     * input channel the output channels whose kh×kw block is not all zero (the rest add nothing and are skipped).
     * Returns the number of such blocks.
     */
    static int packCols(float[] w, int wo, Cols q, float[] dst, int[][] live) {
        int kk = q.kh() * q.kw(), tiles = q.tiles(), og = q.og(), blocks = 0;
        Arrays.fill(dst, 0, q.packedSize(), 0f);
        for (int ci = 0; ci < q.cg(); ci++) {
            int[] list = new int[og];
            int n = 0;
            for (int oc = 0; oc < og; oc++) {
                boolean any = false;
                for (int t = 0; t < kk; t++) {
                    float v = w[wo + (oc * q.cg() + ci) * kk + t];
                    dst[((ci * tiles + t / CT) * og + oc) * CT + t % CT] = v;
                    any |= v != 0f;
                }
                if (any) list[n++] = oc;
            }
            live[ci] = Arrays.copyOf(list, n);
            blocks += n;
        }
        return blocks;
    }

    /** dst [og][P] ← one group's dy planes [og, oh·ow] at so; the tail of each row of P stays as it was (never read). */
    static void copyDy(float[] dy, int so, Cols q, float[] dst) {
        int sp = q.oh() * q.ow(), pp = q.positions();
        for (int oc = 0; oc < q.og(); oc++) System.arraycopy(dy, so + oc * sp, dst, oc * pp, sp);
    }

    /**
     * dx planes [cg, h, w] at dxo ← one group's input gradient, as columns: for each input channel ci,
     * cols[tap][p] = Σ_oc w[oc, ci, tap] · dy[oc, p] over every output position p (a tile of 5 taps × 2 vectors in 10
     * accumulators; each live output channel loads 2 vectors of dy and broadcasts 5 weights), then each tap's
     * columns are added where that tap put them in the padded input gradient: dxp[oy+ky][ox+kx] +=
     * cols[ky·kw+kx][oy·ow+ox] (see {@link #addColumns}); dx is dxp without its border. No product meets the zero border that the full
     * correlation pads dy with, and all-zero weight blocks (a connection table's) are skipped. Buffers: wc and live
     * from {@link #packCols}, dyb from {@link #copyDy}, lanes from {@link #columnLanes}, cols of {@link Cols#colsSize()}, dxp of {@link Cols#dxpSize()}.
     */
    static void backwardDataCols(float[] dyb, Cols q, float[] wc, int[][] live, long[] lanes, float[] cols, float[] dxp, float[] dx, int dxo) {
        int og = q.og(), tiles = q.tiles(), pp = q.positions(), kw = q.kw(), ow = q.ow();
        for (int ci = 0; ci < q.cg(); ci++) {
            int[] ocs = live[ci];
            for (int t = 0; t < tiles; t++) {
                int wb = (ci * tiles + t) * og * CT, cb = VL + t * CT * pp;
                for (int p = 0; p < pp; p += 2 * VL) {
                    // a<tap in tile><vector>
                    FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
                                a30 = a00, a31 = a00, a40 = a00, a41 = a00;
                    for (int j = 0; j < ocs.length; j++) {
                        int oc = ocs[j], d = oc * pp + p, wi = wb + oc * CT;
                        FloatVector d0 = FloatVector.fromArray(S, dyb, d), d1 = FloatVector.fromArray(S, dyb, d + VL);
                        FloatVector w0 = bc(wc[wi]), w1 = bc(wc[wi + 1]), w2 = bc(wc[wi + 2]), w3 = bc(wc[wi + 3]), w4 = bc(wc[wi + 4]);
                        a00 = d0.fma(w0, a00); a01 = d1.fma(w0, a01);
                        a10 = d0.fma(w1, a10); a11 = d1.fma(w1, a11);
                        a20 = d0.fma(w2, a20); a21 = d1.fma(w2, a21);
                        a30 = d0.fma(w3, a30); a31 = d1.fma(w3, a31);
                        a40 = d0.fma(w4, a40); a41 = d1.fma(w4, a41);
                    }
                    int c0 = cb + p;
                    a00.intoArray(cols, c0); a01.intoArray(cols, c0 + VL);
                    a10.intoArray(cols, c0 + pp); a11.intoArray(cols, c0 + pp + VL);
                    a20.intoArray(cols, c0 + 2 * pp); a21.intoArray(cols, c0 + 2 * pp + VL);
                    a30.intoArray(cols, c0 + 3 * pp); a31.intoArray(cols, c0 + 3 * pp + VL);
                    a40.intoArray(cols, c0 + 4 * pp); a41.intoArray(cols, c0 + 4 * pp + VL);
                }
            }
            addColumns(cols, q, lanes, dxp, dx, dxo + ci * q.h() * q.w());
        }
    }

    /**
     * The lanes, as bits, that tap kx fills in vector c of a padded gradient row, at [c·kw + kx]: padded column
     * c·VL + l is output column c·VL + l − kx, which must lie inside [0, ow). One array per call, for
     * {@link #backwardDataCols}.
     */
    static long[] columnLanes(Cols q) {
        int kw = q.kw(), chunks = q.dxpStride() / VL;
        long[] lanes = new long[chunks * kw];
        for (int c = 0; c < chunks; c++)
            for (int kx = 0; kx < kw; kx++) {
                int lo = Math.max(0, kx - c * VL), hi = Math.min(VL, kx - c * VL + q.ow());
                lanes[c * kw + kx] = lo < hi ? (1L << hi) - (1L << lo) : 0L;
            }
        return lanes;
    }

    /**
     * dx plane [h, w] at dxo ← one input channel's columns (see {@link #backwardDataCols}): padded row oy+ky of the
     * gradient gains, a vector at a time, the kw taps (ky, kx) of output row oy, each shifted right by kx (a masked
     * load: lanes whose output column lies outside [0, ow) stay zero), summed in a register and added with one
     * read-add-write; dxp's rows are whole vectors apart, so that no read overlaps the write before it.
     */
    private static void addColumns(float[] cols, Cols q, long[] lanes, float[] dxp, float[] dx, int dxo) {
        int pp = q.positions(), kw = q.kw(), ow = q.ow(), ws = q.dxpStride(), chunks = ws / VL;
        Arrays.fill(dxp, 0, q.dxpSize(), 0f);
        if (kw == 5 && chunks == 1) addColumns5(cols, q, lanes, dxp);
        else for (int ky = 0; ky < q.kh(); ky++)
            for (int oy = 0; oy < q.oh(); oy++) {
                int src = VL + ky * kw * pp + oy * ow, dst = (oy + ky) * ws;
                for (int c = 0; c < chunks; c++) {
                    int x0 = c * VL;
                    FloatVector acc = FloatVector.fromArray(S, dxp, dst + x0);
                    for (int kx = 0; kx < kw; kx++) {
                        long m = lanes[c * kw + kx];
                        if (m != 0L) acc = acc.add(FloatVector.fromArray(S, cols, src + kx * pp + x0 - kx, VectorMask.fromLong(S, m)));
                    }
                    acc.intoArray(dxp, dst + x0);
                }
            }
        for (int iy = 0; iy < q.h(); iy++)
            System.arraycopy(dxp, (iy + q.ph()) * ws + q.pw(), dx, dxo + iy * q.w(), q.w());
    }

    /** {@link #addColumns} for 5-wide kernels whose padded rows are one vector (LeNet-5's C3): masks kept, taps unrolled. */
    private static void addColumns5(float[] cols, Cols q, long[] lanes, float[] dxp) {
        int pp = q.positions(), ow = q.ow();
        VectorMask<Float> m0 = VectorMask.fromLong(S, lanes[0]), m1 = VectorMask.fromLong(S, lanes[1]), m2 = VectorMask.fromLong(S, lanes[2]),
                          m3 = VectorMask.fromLong(S, lanes[3]), m4 = VectorMask.fromLong(S, lanes[4]);
        for (int ky = 0; ky < q.kh(); ky++)
            for (int oy = 0; oy < q.oh(); oy++) {
                int src = VL + 5 * ky * pp + oy * ow, dst = (oy + ky) * VL;
                FloatVector a = FloatVector.fromArray(S, cols, src, m0).add(FloatVector.fromArray(S, cols, src + pp - 1, m1));
                FloatVector b = FloatVector.fromArray(S, cols, src + 2 * pp - 2, m2).add(FloatVector.fromArray(S, cols, src + 3 * pp - 3, m3));
                FloatVector.fromArray(S, dxp, dst).add(a).add(b.add(FloatVector.fromArray(S, cols, src + 4 * pp - 4, m4))).intoArray(dxp, dst);
            }
    }

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

    /** Output positions per {@link #forwardChannels} tile: 5 accumulators, the 9 inputs under them broadcast once. */
    static final int PT = 5;

    /** Packs w [o, cg, kh, 5] (all groups) channels-last, as [g][cg][kh][5][og], for {@link #forwardChannels}. */
    static void packChannelsLast(float[] w, Conv.Geo g, float[] dst) {
        int og = g.og(), cg = g.cg(), kk = g.kh() * 5;
        for (int gi = 0; gi < g.g(); gi++)
            for (int oc = 0; oc < og; oc++)
                for (int ci = 0; ci < cg; ci++)
                    for (int t = 0; t < kk; t++) dst[((gi * cg + ci) * kk + t) * og + oc] = w[((gi * og + oc) * cg + ci) * kk + t];
    }

    /**
     * y [n0, n1) ← conv(x, w) + bias where {@link #appliesChannels}, with vectors along the output channels (the
     * forward twin of {@link #backwardFilterChannels}): a tile is 5 neighbouring output positions of a row, each a
     * vector of VL output channels; per input channel and kernel row it loads the row's 5 weight vectors and
     * broadcasts the 9 inputs under the tile for 25 FMAs. Every lane is a real output, where vectors along 10-wide
     * output rows (LeNet-5's C3) fill 10 of 16; the price is a scatter per position into y's channel planes.
     * wT from {@link #packChannelsLast}.
     */
    static void forwardChannels(float[] x, Conv.Geo g, float[] wT, float[] bias, float[] y, int n0, int n1) {
        int og = g.og(), cg = g.cg(), kh = g.kh(), oh = g.oh(), ow = g.ow(), sp = g.spatial(), ph = g.s().padH(), pw = g.s().padW();
        Plan p = new Plan(cg, g.h() + 2 * ph, g.w() + 2 * pw, og, oh, ow, kh, 5);
        float[] xp = new float[p.bufSize() + PT];
        int[] planes = new int[VL];                           // lane l of a vector goes to output channel ob + l
        for (int l = 0; l < VL; l++) planes[l] = l * sp;
        int xs = g.c() * g.h() * g.w(), ys = g.o() * sp, plane = p.hp() * p.wp(), rs = p.wp();
        for (int n = n0; n < n1; n++)
            for (int gi = 0; gi < g.g(); gi++) {
                pad(x, n * xs + gi * cg * g.h() * g.w(), cg, g.h(), g.w(), ph, pw, p, xp, 0);
                for (int ob = 0; ob < og; ob += VL) {
                    FloatVector b = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, gi * og + ob);
                    int yb = n * ys + (gi * og + ob) * sp;
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox += PT) {
                            FloatVector a0 = b, a1 = b, a2 = b, a3 = b, a4 = b;
                            for (int ci = 0; ci < cg; ci++)
                                for (int ky = 0; ky < kh; ky++) {
                                    int wi = ((gi * cg + ci) * kh + ky) * 5 * og + ob, r = ci * plane + (oy + ky) * rs + ox;
                                    FloatVector w0 = FloatVector.fromArray(S, wT, wi), w1 = FloatVector.fromArray(S, wT, wi + og),
                                                w2 = FloatVector.fromArray(S, wT, wi + 2 * og), w3 = FloatVector.fromArray(S, wT, wi + 3 * og),
                                                w4 = FloatVector.fromArray(S, wT, wi + 4 * og);
                                    // inputs x0..x8 under the tile: position j, tap kx reads x(j + kx)
                                    FloatVector x0 = bc(xp[r]), x1 = bc(xp[r + 1]), x2 = bc(xp[r + 2]), x3 = bc(xp[r + 3]), x4 = bc(xp[r + 4]);
                                    a0 = x0.fma(w0, a0); a1 = x1.fma(w0, a1); a2 = x2.fma(w0, a2); a3 = x3.fma(w0, a3); a4 = x4.fma(w0, a4);
                                    FloatVector x5 = bc(xp[r + 5]);
                                    a0 = x1.fma(w1, a0); a1 = x2.fma(w1, a1); a2 = x3.fma(w1, a2); a3 = x4.fma(w1, a3); a4 = x5.fma(w1, a4);
                                    FloatVector x6 = bc(xp[r + 6]);
                                    a0 = x2.fma(w2, a0); a1 = x3.fma(w2, a1); a2 = x4.fma(w2, a2); a3 = x5.fma(w2, a3); a4 = x6.fma(w2, a4);
                                    FloatVector x7 = bc(xp[r + 7]);
                                    a0 = x3.fma(w3, a0); a1 = x4.fma(w3, a1); a2 = x5.fma(w3, a2); a3 = x6.fma(w3, a3); a4 = x7.fma(w3, a4);
                                    FloatVector x8 = bc(xp[r + 8]);
                                    a0 = x4.fma(w4, a0); a1 = x5.fma(w4, a1); a2 = x6.fma(w4, a2); a3 = x7.fma(w4, a3); a4 = x8.fma(w4, a4);
                                }
                            int at = yb + oy * ow + ox, live = Math.min(PT, ow - ox);
                            a0.intoArray(y, at, planes, 0);
                            if (live > 1) a1.intoArray(y, at + 1, planes, 0);
                            if (live > 2) a2.intoArray(y, at + 2, planes, 0);
                            if (live > 3) a3.intoArray(y, at + 3, planes, 0);
                            if (live > 4) a4.intoArray(y, at + 4, planes, 0);
                        }
                }
            }
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
