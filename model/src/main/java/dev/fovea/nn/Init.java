package dev.fovea.nn;

import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.SplittableRandom;

/** Seeded parameter initialisation. */
public final class Init {
    private final SplittableRandom rng;

    public Init(long seed) { this.rng = new SplittableRandom(seed); }

    /** U(−bound, bound) of the given shape. */
    public Tensor uniform(Backend be, float bound, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        return be.upload(v, shape);
    }

    /** PyTorch's default for Linear and Conv weights and biases (kaiming_uniform with a=√5): U(±1/√fan_in). */
    public Tensor pytorchDefault(Backend be, int fanIn, int... shape) {
        return uniform(be, (float) (1 / Math.sqrt(fanIn)), shape);
    }

    public Tensor constant(Backend be, float value, int... shape) {
        Tensor t = be.zeros(shape);
        be.fill(t, value);
        return t;
    }

    /** A fresh random stream for dropout masks and shuffling. */
    public SplittableRandom split() { return rng.split(); }
}
