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

    // erf: N. Juffa's faithfully rounded erff (stackoverflow.com/q/35148198; ONNX Runtime's MLAS uses it too):
    // x + x·P(x²) for |x| ≤ 0.921875, else ±(1 − e^(−a − a·Q(a))) with a = min(|x|, 3.925), past which erf rounds
    // to ±1 in float. The vector form computes both and blends. No division: a division per lane (as in the
    // Numerical Recipes erfc) is the dearest part of GELU.
    private static final float ERF_SPLIT = 0.921875f, ERF_UPPER = 3.925f;
    private static final float P0 = -5.99104969e-4f, P1 = 4.99339588e-3f, P2 = -2.67667342e-2f, P3 = 1.12818025e-1f,
            P4 = -3.76124859e-1f, P5 = 1.28379151e-1f;
    private static final float Q0 = 1.72948930e-5f, Q1 = -3.83208680e-4f, Q2 = 3.88393435e-3f, Q3 = -2.42545605e-2f,
            Q4 = 1.06777847e-1f, Q5 = 6.34846687e-1f, Q6 = 1.28717512e-1f;

    static float erf(float x) {
        float a = Math.min(Math.abs(x), ERF_UPPER), s = a * a;
        float small = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(P0, s, P1), s, P2), s, P3), s, P4), s, P5), a, a);
        float r = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Q0, a, Q1), a, Q2), a, Q3), a, Q4), a, Q5), a, Q6), a, a);
        float y = a > ERF_SPLIT ? 1f - expCore(-r) : small;
        return x < 0 ? -y : y;
    }

    static FloatVector erf(FloatVector x) {
        var sp = x.species();
        FloatVector a = x.abs(), s;
        a = a.blend(ERF_UPPER, a.compare(VectorOperators.GT, ERF_UPPER));
        s = a.mul(a);
        FloatVector small = s.fma(P0, P1).fma(s, FloatVector.broadcast(sp, P2)).fma(s, FloatVector.broadcast(sp, P3))
                .fma(s, FloatVector.broadcast(sp, P4)).fma(s, FloatVector.broadcast(sp, P5)).fma(a, a);
        FloatVector r = a.fma(Q0, Q1).fma(a, FloatVector.broadcast(sp, Q2)).fma(a, FloatVector.broadcast(sp, Q3))
                .fma(a, FloatVector.broadcast(sp, Q4)).fma(a, FloatVector.broadcast(sp, Q5)).fma(a, FloatVector.broadcast(sp, Q6)).fma(a, a);
        FloatVector y = small.blend(expCore(r.neg()).neg().add(1f), a.compare(VectorOperators.GT, ERF_SPLIT));
        return y.blend(y.neg(), x.lt(0f));
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
        return expCore(x);
    }

    /**
     * e^x for x ≤ EXP_HI without exp's overflow and NaN blends (NaN still gives NaN; below EXP_LO, 0): for shifted
     * softmax scores, which are ≤ 0.
     */
    static float expNoOverflow(float x) { return x < EXP_LO ? 0f : expCore(x); }

    static FloatVector expNoOverflow(FloatVector x) {
        return expCore(x).blend(0f, x.compare(VectorOperators.LT, EXP_LO));
    }

    /**
     * e^c for c in [EXP_LO, EXP_HI]; outside it a meaningless value that the callers blend away. n's integer sits in
     * the low mantissa bits of c·log2(e) + 1.5·2^23, so 2^n is those bits shifted into the exponent field.
     */
    private static float expCore(float c) {
        float b = Math.fma(c, LOG2E, ROUND), n = b - ROUND;
        float r = Math.fma(n, -LN2_LO, Math.fma(n, -LN2_HI, c));
        float p = E[0];
        for (int i = 1; i < E.length; i++) p = Math.fma(p, r, E[i]);
        float e = Math.fma(p, r * r, r) + 1f;
        return e * Float.intBitsToFloat((Float.floatToRawIntBits(b) << 23) + (127 << 23));
    }

    // The range checks are compare-and-blend, not min/max and not a float-to-int conversion: Java's float min/max
    // (NaN and −0 rules) and its saturating F2I each compile to a chain of several instructions, which made the
    // vector exp twice as dear (7.8 against 4.1 ns a 16-lane vector, scratch, one thread).
    static FloatVector exp(FloatVector x) {
        FloatVector y = expCore(x);
        y = y.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI));
        y = y.blend(0f, x.compare(VectorOperators.LT, EXP_LO));
        return y.blend(x, x.test(VectorOperators.IS_NAN));
    }

    private static FloatVector expCore(FloatVector c) {
        var sp = c.species();
        FloatVector b = c.fma(LOG2E, ROUND), n = b.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(sp, -LN2_LO), n.fma(FloatVector.broadcast(sp, -LN2_HI), c));
        FloatVector p = FloatVector.broadcast(sp, E[0]);
        for (int i = 1; i < E.length; i++) p = p.fma(r, FloatVector.broadcast(sp, E[i]));
        FloatVector e = p.fma(r.mul(r), r).add(1f);
        IntVector bits = ((IntVector) b.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 23).add(127 << 23);
        return e.mul(bits.reinterpretAsFloats());
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
        FloatVector c = x.blend(-TANH_CLAMP, x.compare(VectorOperators.LT, -TANH_CLAMP)), x2;
        c = c.blend(TANH_CLAMP, c.compare(VectorOperators.GT, TANH_CLAMP));
        x2 = c.mul(c);
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

    // Shuffles for sumLanes and maxLanes: lane i takes lane i + step. One constant per step, not an array walked by a loop:
    // rearrange by a shuffle the JIT cannot see as a constant is not intrinsified and boxes every vector.
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

    /**
     * The largest of a vector's lanes by the same tree, each step a compare and a blend (Java's max is several
     * dependent instructions a lane, see exp): a NaN lane may be passed over.
     */
    static float maxLanes(FloatVector v) {
        FloatVector w;
        if (H8 != null) { w = v.rearrange(H8); v = v.blend(w, v.lt(w)); }
        if (H4 != null) { w = v.rearrange(H4); v = v.blend(w, v.lt(w)); }
        if (H2 != null) { w = v.rearrange(H2); v = v.blend(w, v.lt(w)); }
        if (H1 != null) { w = v.rearrange(H1); v = v.blend(w, v.lt(w)); }
        return v.lane(0);
    }
}
