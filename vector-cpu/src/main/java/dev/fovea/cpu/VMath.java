package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Vector math the Vector API lacks (erf), each with its scalar twin computing the same formula, so that a
 * vector loop's scalar tail gives bit-for-bit what its vector body gives.
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
        float r = 1f - t * (float) Math.exp(-z * z + p);
        return x >= 0 ? r : -r;
    }

    static FloatVector erf(FloatVector x) {
        FloatVector z = x.abs();
        FloatVector one = FloatVector.broadcast(x.species(), 1f);
        FloatVector t = one.div(z.mul(0.5f).add(1f));
        FloatVector p = FloatVector.broadcast(x.species(), C[9]);
        for (int i = 8; i >= 0; i--) p = p.fma(t, FloatVector.broadcast(x.species(), C[i]));
        FloatVector e = z.mul(z).neg().add(p).lanewise(VectorOperators.EXP);
        FloatVector r = t.mul(e).neg().add(1f);
        return r.blend(r.neg(), x.lt(0f));
    }
}
