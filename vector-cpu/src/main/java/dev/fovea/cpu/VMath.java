package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vector math with a scalar twin each (erf, exp, tanh, sigmoid): the twin computes the same formula in the same
 * order, so a vector loop's scalar tail gives bit-for-bit what its vector body gives. exp and tanh are ours, not
 * the Vector API's EXP and TANH, because those are computed by different code before and after the JIT compiles a
 * loop (Java fallback vs SVML stubs) and differ in the last bits: a run resumed in a fresh JVM would then drift
 * from an uninterrupted one. Only +, −, ×, ÷, fma and exponent-bit arithmetic are used, which are exact the same
 * everywhere.
 */
final class VMath {
    private VMath() {}

    // erf(x) = 1 − t·exp(−x² + P(t)) with t = 1/(1 + 0.5|x|): Numerical Recipes' erfc (Chebyshev fit),
    // fractional error below 1.2e-7 everywhere.
    private static final float[] C = {-1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
            0.27886807f, -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};

    static float erf(float x) {
        float z = Math.abs(x);
        float t = 1f / (0.5f * z + 1f);
        float p = C[9];
        for (int i = 8; i >= 0; i--) p = Math.fma(p, t, C[i]);
        float r = 1f - t * exp(-z * z + p);
        return x >= 0 ? r : -r;
    }

    static FloatVector erf(FloatVector x) {
        FloatVector z = x.abs();
        FloatVector one = FloatVector.broadcast(x.species(), 1f);
        FloatVector t = one.div(z.mul(0.5f).add(1f));
        FloatVector p = FloatVector.broadcast(x.species(), C[9]);
        for (int i = 8; i >= 0; i--) p = p.fma(t, FloatVector.broadcast(x.species(), C[i]));
        FloatVector e = exp(z.mul(z).neg().add(p));
        FloatVector r = t.mul(e).neg().add(1f);
        return r.blend(r.neg(), x.lt(0f));
    }

    // exp (Cephes expf): x = n·ln2 + r with ln2 split in two for an exact reduction, e^r by a degree-7 polynomial,
    // 2^n through the exponent bits; n = x·log2(e) rounded to nearest by adding and subtracting 1.5·2^23.
    // Relative error about 1e-7 over [−87.33, 88]; 0 below (flushing subnormal results), +∞ above.
    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float EXP_HI = 88f, EXP_LO = -87.33f, ROUND = 12582912f;
    private static final float[] E = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
            1.6666665459e-1f, 5.0000001201e-1f};

    static float exp(float x) {
        if (x > EXP_HI) return Float.POSITIVE_INFINITY;
        if (x < EXP_LO) return 0f;
        if (x != x) return x;
        float n = (x * LOG2E + ROUND) - ROUND;
        float r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, x));
        float p = E[0];
        for (int i = 1; i < E.length; i++) p = Math.fma(p, r, E[i]);
        float e = Math.fma(p, r * r, r) + 1f;
        return e * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    static FloatVector exp(FloatVector x) {
        var sp = x.species();
        FloatVector c = x.min(EXP_HI).max(EXP_LO);
        FloatVector n = c.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(sp, -LN2_LO), n.fma(FloatVector.broadcast(sp, -LN2_HI), c));
        FloatVector p = FloatVector.broadcast(sp, E[0]);
        for (int i = 1; i < E.length; i++) p = p.fma(r, FloatVector.broadcast(sp, E[i]));
        FloatVector e = p.fma(r.mul(r), r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector y = e.mul(bits.reinterpretAsFloats());
        y = y.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI));
        y = y.blend(0f, x.compare(VectorOperators.LT, EXP_LO));
        return y.blend(x, x.test(VectorOperators.IS_NAN));
    }

    // tanh (Cephes tanhf): an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above; relative error ~1e-7.
    private static final float[] T = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f, -3.33332819422e-1f};

    static float tanh(float x) {
        float z = Math.abs(x);
        float r;
        if (z < 0.625f) {
            float z2 = x * x, p = T[0];
            for (int i = 1; i < T.length; i++) p = Math.fma(p, z2, T[i]);
            return Math.fma(p * z2, x, x);
        }
        r = 1f - 2f / (exp(2f * z) + 1f);
        return x < 0 ? -r : r;
    }

    static FloatVector tanh(FloatVector x) {
        var sp = x.species();
        FloatVector z = x.abs(), z2 = x.mul(x);
        FloatVector p = FloatVector.broadcast(sp, T[0]);
        for (int i = 1; i < T.length; i++) p = p.fma(z2, FloatVector.broadcast(sp, T[i]));
        FloatVector small = p.mul(z2).fma(x, x);
        FloatVector big = FloatVector.broadcast(sp, 2f).div(exp(z.mul(2f)).add(1f)).neg().add(1f);
        big = big.blend(big.neg(), x.compare(VectorOperators.LT, 0f));
        return big.blend(small, z.compare(VectorOperators.LT, 0.625f));
    }

    /** 1/(1 + e^{−x}). */
    static float sigmoid(float x) { return 1f / (1f + exp(-x)); }

    static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(x.species(), 1f).div(exp(x.neg()).add(1f));
    }

    /**
     * The sum of a vector's lanes, in lane order. Not {@code reduceLanes(ADD)}: its order is unspecified and does
     * differ between the interpreted and the compiled code, which would make results depend on the JIT's progress.
     */
    static float sumLanes(FloatVector v) {
        float s = 0f;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }
}
