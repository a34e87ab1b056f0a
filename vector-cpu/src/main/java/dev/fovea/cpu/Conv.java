package dev.fovea.cpu;

import dev.fovea.backend.Conv2dSpec;

import java.util.Arrays;

/**
 * 2-D convolution as im2col + GEMM, per image and per group. The column matrix of one image and group is
 * [C/g·KH·KW, OH·OW]; forward is W_g [O/g, C/g·KH·KW] × col; backward-data is col2im(W_gᵀ × dy);
 * backward-filter is dy × colᵀ summed over images. A 1×1 kernel with stride 1 and no padding uses x as col directly.
 */
final class Conv {
    private Conv() {}

    /** Geometry of one call, derived once. */
    record Geo(int n, int c, int h, int w, int o, int kh, int kw, int oh, int ow, Conv2dSpec s) {
        int g() { return s.groups(); }
        int cg() { return c / g(); }
        int og() { return o / g(); }
        int colRows() { return cg() * kh * kw; }
        int spatial() { return oh * ow; }
        boolean inputIsColumns() { return kh == 1 && kw == 1 && s.strideH() == 1 && s.strideW() == 1 && s.padH() == 0 && s.padW() == 0; }

        static Geo of(int[] x, int[] wt, int[] y, Conv2dSpec s) {
            return new Geo(x[0], x[1], x[2], x[3], wt[0], wt[2], wt[3], y[2], y[3], s);
        }
    }

    /** col [cg·kh·kw, oh·ow] ← patches of channels [c0, c0+cg) of image x at xo. */
    static void im2col(float[] x, int xo, Geo g, int c0, float[] col) {
        int sh = g.s().strideH(), sw = g.s().strideW(), ph = g.s().padH(), pw = g.s().padW();
        int row = 0;
        for (int ci = 0; ci < g.cg(); ci++) {
            int plane = xo + (c0 + ci) * g.h() * g.w();
            for (int ky = 0; ky < g.kh(); ky++) {
                for (int kx = 0; kx < g.kw(); kx++, row++) {
                    int dst = row * g.spatial();
                    for (int oy = 0; oy < g.oh(); oy++) {
                        int iy = oy * sh - ph + ky;
                        int d = dst + oy * g.ow();
                        if (iy < 0 || iy >= g.h()) {
                            Arrays.fill(col, d, d + g.ow(), 0f);
                            continue;
                        }
                        int src = plane + iy * g.w();
                        if (sw == 1) {
                            // contiguous run: valid ox satisfy 0 <= ox - pw + kx < w
                            int lo = Math.max(0, pw - kx), hi = Math.min(g.ow(), g.w() + pw - kx);
                            if (lo > 0) Arrays.fill(col, d, d + Math.min(lo, g.ow()), 0f);
                            if (hi > lo) System.arraycopy(x, src + lo - pw + kx, col, d + lo, hi - lo);
                            if (hi < g.ow()) Arrays.fill(col, d + Math.max(hi, 0), d + g.ow(), 0f);
                        } else {
                            for (int ox = 0; ox < g.ow(); ox++) {
                                int ix = ox * sw - pw + kx;
                                col[d + ox] = ix >= 0 && ix < g.w() ? x[src + ix] : 0f;
                            }
                        }
                    }
                }
            }
        }
    }

    /** dx channels [c0, c0+cg) of image at xo += scatter of col (the adjoint of im2col). */
    static void col2im(float[] col, Geo g, int c0, float[] dx, int xo) {
        int sh = g.s().strideH(), sw = g.s().strideW(), ph = g.s().padH(), pw = g.s().padW();
        int row = 0;
        for (int ci = 0; ci < g.cg(); ci++) {
            int plane = xo + (c0 + ci) * g.h() * g.w();
            for (int ky = 0; ky < g.kh(); ky++) {
                for (int kx = 0; kx < g.kw(); kx++, row++) {
                    int srcRow = row * g.spatial();
                    for (int oy = 0; oy < g.oh(); oy++) {
                        int iy = oy * sh - ph + ky;
                        if (iy < 0 || iy >= g.h()) continue;
                        int dst = plane + iy * g.w(), s = srcRow + oy * g.ow();
                        if (sw == 1) {
                            int lo = Math.max(0, pw - kx), hi = Math.min(g.ow(), g.w() + pw - kx);
                            if (hi > lo) Pointwise.axpy(1f, col, s + lo, dx, dst + lo - pw + kx, hi - lo);
                        } else {
                            for (int ox = 0; ox < g.ow(); ox++) {
                                int ix = ox * sw - pw + kx;
                                if (ix >= 0 && ix < g.w()) dx[dst + ix] += col[s + ox];
                            }
                        }
                    }
                }
            }
        }
    }

    /** Images [n0, n1) of the forward; gemm threads are the caller's choice. */
    static void forward(Parallel gemmPar, float[] x, float[] wt, float[] bias, float[] y, Geo g, int n0, int n1, float[] col) {
        int kdim = g.colRows(), sp = g.spatial();
        for (int n = n0; n < n1; n++) {
            int xo = n * g.c() * g.h() * g.w(), yo = n * g.o() * sp;
            for (int gi = 0; gi < g.g(); gi++) {
                float[] src = col;
                int so = 0;
                if (g.inputIsColumns()) { src = x; so = xo + gi * g.cg() * sp; }
                else im2col(x, xo, g, gi * g.cg(), col);
                Gemm.sgemm(gemmPar, false, false, g.og(), sp, kdim, 1f, wt, gi * g.og() * kdim, kdim,
                        src, so, sp, 0f, y, yo + gi * g.og() * sp, sp);
            }
            if (bias != null)
                for (int oc = 0; oc < g.o(); oc++) {
                    float b = bias[oc];
                    int off = yo + oc * sp;
                    for (int i = 0; i < sp; i++) y[off + i] += b;
                }
        }
    }

    /** Images [n0, n1) of the backward-data: dx is overwritten for those images. */
    static void backwardData(Parallel gemmPar, float[] dy, float[] wt, float[] dx, Geo g, int n0, int n1, float[] col) {
        int kdim = g.colRows(), sp = g.spatial(), xsz = g.c() * g.h() * g.w();
        for (int n = n0; n < n1; n++) {
            int xo = n * xsz, yo = n * g.o() * sp;
            if (!g.inputIsColumns()) Arrays.fill(dx, xo, xo + xsz, 0f);
            for (int gi = 0; gi < g.g(); gi++) {
                if (g.inputIsColumns()) {
                    Gemm.sgemm(gemmPar, true, false, kdim, sp, g.og(), 1f, wt, gi * g.og() * kdim, kdim,
                            dy, yo + gi * g.og() * sp, sp, 0f, dx, xo + gi * g.cg() * sp, sp);
                } else {
                    Gemm.sgemm(gemmPar, true, false, kdim, sp, g.og(), 1f, wt, gi * g.og() * kdim, kdim,
                            dy, yo + gi * g.og() * sp, sp, 0f, col, 0, sp);
                    col2im(col, g, gi * g.cg(), dx, xo);
                }
            }
        }
    }

    /** dw += Σ over images [n0, n1) of dy_n × col_nᵀ (dw must start zeroed by the caller). */
    static void backwardFilter(Parallel gemmPar, float[] x, float[] dy, float[] dw, Geo g, int n0, int n1, float[] col) {
        int kdim = g.colRows(), sp = g.spatial();
        for (int n = n0; n < n1; n++) {
            int xo = n * g.c() * g.h() * g.w(), yo = n * g.o() * sp;
            for (int gi = 0; gi < g.g(); gi++) {
                float[] src = col;
                int so = 0;
                if (g.inputIsColumns()) { src = x; so = xo + gi * g.cg() * sp; }
                else im2col(x, xo, g, gi * g.cg(), col);
                Gemm.sgemm(gemmPar, false, true, g.og(), kdim, sp, 1f, dy, yo + gi * g.og() * sp, sp,
                        src, so, sp, 1f, dw, gi * g.og() * kdim, kdim);
            }
        }
    }
}
