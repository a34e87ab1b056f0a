package dev.fovea.cpu;

import dev.fovea.backend.Pool2dSpec;

/** Max and average pooling over planes [p0, p1) of N·C planes; max routes its gradient to the first maximum. */
final class Pooling {
    private Pooling() {}

    /** The common 2×2, stride 2, unpadded window (LeNet-5's subsampling, most CNNs' max pooling). */
    static boolean isPair(Pool2dSpec s) {
        return s.kH() == 2 && s.kW() == 2 && s.strideH() == 2 && s.strideW() == 2 && s.padH() == 0 && s.padW() == 0;
    }

    static void forward(Pool2dSpec s, float[] x, int h, int w, float[] y, int oh, int ow, int p0, int p1) {
        boolean max = s.mode() == Pool2dSpec.Mode.MAX;
        if (isPair(s)) { forwardPair(max, x, h, w, y, oh, ow, p0, p1); return; }
        float inv = 1f / (s.kH() * s.kW());
        for (int p = p0; p < p1; p++) {
            int xo = p * h * w, yo = p * oh * ow;
            for (int oy = 0; oy < oh; oy++) {
                int y0 = oy * s.strideH() - s.padH();
                int ya = Math.max(0, y0), yb = Math.min(h, y0 + s.kH());
                for (int ox = 0; ox < ow; ox++) {
                    int x0 = ox * s.strideW() - s.padW();
                    int xa = Math.max(0, x0), xb = Math.min(w, x0 + s.kW());
                    float acc = max ? Float.NEGATIVE_INFINITY : 0f;
                    for (int iy = ya; iy < yb; iy++) {
                        int r = xo + iy * w;
                        for (int ix = xa; ix < xb; ix++) acc = max ? Math.max(acc, x[r + ix]) : acc + x[r + ix];
                    }
                    y[yo + oy * ow + ox] = max ? acc : acc * inv;
                }
            }
        }
    }

    /** dx is overwritten for planes [p0, p1). */
    static void backward(Pool2dSpec s, float[] x, int h, int w, float[] dy, int oh, int ow, float[] dx, int p0, int p1) {
        boolean max = s.mode() == Pool2dSpec.Mode.MAX;
        float inv = 1f / (s.kH() * s.kW());
        java.util.Arrays.fill(dx, p0 * h * w, p1 * h * w, 0f);
        if (isPair(s)) { backwardPair(max, x, h, w, dy, oh, ow, dx, p0, p1); return; }
        for (int p = p0; p < p1; p++) {
            int xo = p * h * w, yo = p * oh * ow;
            for (int oy = 0; oy < oh; oy++) {
                int y0 = oy * s.strideH() - s.padH();
                int ya = Math.max(0, y0), yb = Math.min(h, y0 + s.kH());
                for (int ox = 0; ox < ow; ox++) {
                    int x0 = ox * s.strideW() - s.padW();
                    int xa = Math.max(0, x0), xb = Math.min(w, x0 + s.kW());
                    float g = dy[yo + oy * ow + ox];
                    if (max) {
                        int arg = -1;
                        float best = Float.NEGATIVE_INFINITY;
                        for (int iy = ya; iy < yb; iy++)
                            for (int ix = xa; ix < xb; ix++) {
                                float v = x[xo + iy * w + ix];
                                if (v > best || arg < 0) { best = v; arg = xo + iy * w + ix; }
                            }
                        if (arg >= 0) dx[arg] += g;
                    } else {
                        float gi = g * inv;
                        for (int iy = ya; iy < yb; iy++)
                            for (int ix = xa; ix < xb; ix++) dx[xo + iy * w + ix] += gi;
                    }
                }
            }
        }
    }

    // 2×2 stride 2: straight-line code per window, no bounds logic (every window lies inside the plane).

    private static void forwardPair(boolean max, float[] x, int h, int w, float[] y, int oh, int ow, int p0, int p1) {
        for (int p = p0; p < p1; p++) {
            int xo = p * h * w, yo = p * oh * ow;
            for (int oy = 0; oy < oh; oy++) {
                int r0 = xo + 2 * oy * w, r1 = r0 + w, d = yo + oy * ow;
                if (max) for (int ox = 0; ox < ow; ox++) {
                    int i = 2 * ox;
                    y[d + ox] = Math.max(Math.max(x[r0 + i], x[r0 + i + 1]), Math.max(x[r1 + i], x[r1 + i + 1]));
                }
                else for (int ox = 0; ox < ow; ox++) {
                    int i = 2 * ox;
                    y[d + ox] = 0.25f * ((x[r0 + i] + x[r0 + i + 1]) + (x[r1 + i] + x[r1 + i + 1]));
                }
            }
        }
    }

    /** dx (zeroed by the caller) ← dy routed to the first maximum of each window, or spread evenly. */
    private static void backwardPair(boolean max, float[] x, int h, int w, float[] dy, int oh, int ow, float[] dx, int p0, int p1) {
        for (int p = p0; p < p1; p++) {
            int xo = p * h * w, yo = p * oh * ow;
            for (int oy = 0; oy < oh; oy++) {
                int r0 = xo + 2 * oy * w, r1 = r0 + w, d = yo + oy * ow;
                for (int ox = 0; ox < ow; ox++) {
                    int i = 2 * ox;
                    float g = dy[d + ox];
                    if (max) {
                        int arg = r0 + i;
                        if (x[r0 + i + 1] > x[arg]) arg = r0 + i + 1;
                        if (x[r1 + i] > x[arg]) arg = r1 + i;
                        if (x[r1 + i + 1] > x[arg]) arg = r1 + i + 1;
                        dx[arg] += g;
                    } else {
                        float q = 0.25f * g;
                        dx[r0 + i] = q; dx[r0 + i + 1] = q; dx[r1 + i] = q; dx[r1 + i + 1] = q;
                    }
                }
            }
        }
    }
}
