package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;

/**
 * What the tiles of a GEMM's C get on their way out, as cuBLASLt's epilogues: a bias row and a residual matrix,
 * added when K's first slice stores the tile, while it is in L1, instead of as passes over C of their own. Element
 * (i, j) of C takes bias[bi + j] and res[ro + i·ldr + j]; either may be absent (null).
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

    /** Bias and residual into rows [i, i+rows) and columns [j, j+cols) of C, whose element (i, j) is c[co]. */
    void add(float[] c, int co, int ldc, int i, int j, int rows, int cols) {
        float[] bias = this.bias, res = this.res;
        int bo = bi + j, rs = ro + i * ldr + j, ldr = this.ldr;
        if (rows == Gemm.MR && cols == Gemm.NR) {
            // a whole tile, two vectors a row; no bias reads zeros, so that no vector is chosen by a condition (C2
            // may box a vector that merges two values)
            float[] bs = bias == null ? NO_BIAS : bias;
            int bj = bias == null ? 0 : bo;
            FloatVector b0 = FloatVector.fromArray(Gemm.S, bs, bj), b1 = FloatVector.fromArray(Gemm.S, bs, bj + VL);
            if (res == null) {
                for (int r = 0, o = co; r < rows; r++, o += ldc) {
                    FloatVector.fromArray(Gemm.S, c, o).add(b0).intoArray(c, o);
                    FloatVector.fromArray(Gemm.S, c, o + VL).add(b1).intoArray(c, o + VL);
                }
            } else {
                for (int r = 0, o = co; r < rows; r++, o += ldc, rs += ldr) {
                    FloatVector.fromArray(Gemm.S, c, o).add(b0).add(FloatVector.fromArray(Gemm.S, res, rs)).intoArray(c, o);
                    FloatVector.fromArray(Gemm.S, c, o + VL).add(b1).add(FloatVector.fromArray(Gemm.S, res, rs + VL)).intoArray(c, o + VL);
                }
            }
            return;
        }
        for (int r = 0, o = co; r < rows; r++, o += ldc, rs += ldr)
            for (int x = 0; x < cols; x++) {
                float y = c[o + x];
                if (bias != null) y += bias[bo + x];
                if (res != null) y += res[rs + x];
                c[o + x] = y;
            }
    }
}
