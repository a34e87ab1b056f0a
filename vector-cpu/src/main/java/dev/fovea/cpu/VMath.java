package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

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
        // Horner written out as one expression: no loop over the coefficient array for the JIT to unroll
        var sp = x.species();
        FloatVector p = t.fma(C[9], C[8]).fma(t, FloatVector.broadcast(sp, C[7])).fma(t, FloatVector.broadcast(sp, C[6]))
                .fma(t, FloatVector.broadcast(sp, C[5])).fma(t, FloatVector.broadcast(sp, C[4])).fma(t, FloatVector.broadcast(sp, C[3]))
                .fma(t, FloatVector.broadcast(sp, C[2])).fma(t, FloatVector.broadcast(sp, C[1])).fma(t, FloatVector.broadcast(sp, C[0]));
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

    // tanh: Eigen's rational approximation (generic_fast_tanh_float), x·P(x²)/Q(x²) on x clamped to ±7.905, x itself
    // below 4e-4, exactly ±1 from 9.02 on (where tanh rounds to ±1 in float, so that saturated units give exact
    // zeros in derivatives like GELU's); relative error below 3e-7 (KernelTwinTest), one division, no exp.
    private static final float A1 = 4.89352455891786e-03f, A3 = 6.37261928875436e-04f, A5 = 1.48572235717979e-05f,
            A7 = 5.12229709037114e-08f, A9 = -8.60467152213735e-11f, A11 = 2.00018790482477e-13f, A13 = -2.76076847742355e-16f;
    private static final float B0 = 4.89352518554385e-03f, B2 = 2.26843463243900e-03f, B4 = 1.18534705686654e-04f,
            B6 = 1.19825839466702e-06f, TANH_CLAMP = 7.90531110763549805f, TANH_TINY = 4e-4f, TANH_ONE = 9.02f;

    static float tanh(float x) {
        float c = Math.max(-TANH_CLAMP, Math.min(TANH_CLAMP, x)), x2 = c * c;
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(A13, x2, A11), x2, A9), x2, A7), x2, A5), x2, A3), x2, A1) * c;
        float q = Math.fma(Math.fma(Math.fma(B6, x2, B4), x2, B2), x2, B0);
        float z = Math.abs(x);
        return z < TANH_TINY ? x : z >= TANH_ONE ? Math.copySign(1f, x) : p / q;
    }

    static FloatVector tanh(FloatVector x) {
        var sp = x.species();
        FloatVector c = x.max(-TANH_CLAMP).min(TANH_CLAMP), x2 = c.mul(c);
        FloatVector p = x2.fma(A13, A11).fma(x2, FloatVector.broadcast(sp, A9)).fma(x2, FloatVector.broadcast(sp, A7))
                .fma(x2, FloatVector.broadcast(sp, A5)).fma(x2, FloatVector.broadcast(sp, A3)).fma(x2, FloatVector.broadcast(sp, A1)).mul(c);
        FloatVector q = x2.fma(B6, B4).fma(x2, FloatVector.broadcast(sp, B2)).fma(x2, FloatVector.broadcast(sp, B0));
        FloatVector z = x.abs();
        FloatVector one = FloatVector.broadcast(sp, 1f), sat = one.blend(one.neg(), x.compare(VectorOperators.LT, 0f));
        return p.div(q).blend(x, z.compare(VectorOperators.LT, TANH_TINY)).blend(sat, z.compare(VectorOperators.GE, TANH_ONE));
    }

    /** 1/(1 + e^{−x}). */
    static float sigmoid(float x) { return 1f / (1f + exp(-x)); }

    static FloatVector sigmoid(FloatVector x) {
        return FloatVector.broadcast(x.species(), 1f).div(exp(x.neg()).add(1f));
    }

    // Shuffles for sumLanes: lane i takes lane i + step. One constant per step, not an array walked by a loop:
    // rearrange by a shuffle the JIT cannot see as a constant is not intrinsified and boxes every vector (measured:
    // gigabytes of garbage per second in attention's softmax rows).
    private static final int VL = FloatVector.SPECIES_PREFERRED.length();
    static final VectorShuffle<Float> H8 = half(8), H4 = half(4), H2 = half(2), H1 = half(1);

    private static VectorShuffle<Float> half(int step) {
        return step < VL ? VectorShuffle.fromOp(FloatVector.SPECIES_PREFERRED, i -> (i + step) % VL) : null;
    }

    /**
     * The sum of a vector's lanes by a fixed pairwise tree (halves folded onto each other). Not
     * {@code reduceLanes(ADD)}, whose order is unspecified and does differ between interpreted and compiled code,
     * which would make results depend on the JIT's progress. For the preferred species (up to 16 lanes) only.
     */
    static float sumLanes(FloatVector v) {
        if (H8 != null) v = v.add(v.rearrange(H8));
        if (H4 != null) v = v.add(v.rearrange(H4));
        if (H2 != null) v = v.add(v.rearrange(H2));
        if (H1 != null) v = v.add(v.rearrange(H1));
        return v.lane(0);
    }
}
