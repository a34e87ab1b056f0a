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

    /** N(0, std²) truncated to ±2·std (timm's trunc_normal_ with its default bounds, which are ±2 absolute: at
     * std = 0.02 they never bind, so this redraws beyond two deviations instead). */
    public Tensor truncNormal(Backend be, float std, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double g;
            do { g = gaussian(); } while (Math.abs(g) > 2);
            v[i] = (float) (g * std);
        }
        return be.upload(v, shape);
    }

    private double gaussian() {
        // Box–Muller on the seeded stream
        double u1 = rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    public Tensor constant(Backend be, float value, int... shape) {
        Tensor t = be.zeros(shape);
        be.fill(t, value);
        return t;
    }
}
