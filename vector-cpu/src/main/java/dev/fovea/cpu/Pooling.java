package dev.fovea.cpu;

import dev.fovea.backend.Pool2dSpec;

/** Max and average pooling over planes [p0, p1) of N·C planes; max routes its gradient to the first maximum. */
final class Pooling {
    private Pooling() {}

    static void forward(Pool2dSpec s, float[] x, int h, int w, float[] y, int oh, int ow, int p0, int p1) {
        boolean max = s.mode() == Pool2dSpec.Mode.MAX;
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
}
