package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;

/**
 * What the tiles of a GEMM's C get on their way out, as cuBLASLt's epilogues: a bias row and a residual matrix.
 * A whole tile starts as bias + residual ({@link #fillTile}) and the micro-kernel adds its product to it; ragged
 * edge tiles and the small products that do not run the kernel get them afterwards ({@link #add}, the scalar twin).
 * Element (i, j) of C takes bias[bi + j] and res[ro + i·ldr + j]; either may be absent (null).
 */
final class Epilogue {
    static final Epilogue NONE = new Epilogue(null, 0, null, 0, 0);
    private static final int VL = Gemm.VL;
    private static final float[] NO_BIAS = new float[Gemm.NR];

    final float[] bias, res;
    final int bi, ro, ldr;

    Epilogue(float[] bias, int bi, float[] res, int ro, int ldr) {
        this.bias = bias;
        this.bi = bi;
        this.res = res;
        this.ro = ro;
        this.ldr = ldr;
    }

    boolean adds() { return bias != null || res != null; }

    /** The MR×NR tile of C whose element (i, j) is c[co] ← bias + residual: two vectors a row. */
    void fillTile(float[] c, int co, int ldc, int i, int j) {
        // no bias reads zeros, so that no vector is chosen by a condition (C2 may box a vector that merges two values)
        float[] bs = bias == null ? NO_BIAS : bias;
        int bj = bias == null ? 0 : bi + j;
        FloatVector b0 = FloatVector.fromArray(Gemm.S, bs, bj), b1 = FloatVector.fromArray(Gemm.S, bs, bj + VL);
        if (res == null) {
            for (int r = 0, o = co; r < Gemm.MR; r++, o += ldc) {
                b0.intoArray(c, o);
                b1.intoArray(c, o + VL);
            }
        } else {
            float[] res = this.res;
            for (int r = 0, o = co, rs = ro + i * ldr + j; r < Gemm.MR; r++, o += ldc, rs += ldr) {
                b0.add(FloatVector.fromArray(Gemm.S, res, rs)).intoArray(c, o);
                b1.add(FloatVector.fromArray(Gemm.S, res, rs + VL)).intoArray(c, o + VL);
            }
        }
    }

    /** Bias and residual added into rows [i, i+rows) and columns [j, j+cols) of C, whose element (i, j) is c[co]. */
    void add(float[] c, int co, int ldc, int i, int j, int rows, int cols) {
        float[] bias = this.bias, res = this.res;
        int bo = bi + j, rs = ro + i * ldr + j, ldr = this.ldr;
        for (int r = 0, o = co; r < rows; r++, o += ldc, rs += ldr)
            for (int x = 0; x < cols; x++) {
                float y = c[o + x];
                if (bias != null) y += bias[bo + x];
                if (res != null) y += res[rs + x];
                c[o + x] = y;
            }
    }
}
