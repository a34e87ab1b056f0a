package dev.fovea.jmh;

import dev.fovea.backend.Backend;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

import java.util.SplittableRandom;

/** Seeded benchmark inputs. */
final class Random {
    private Random() {}

    /** A tensor of values uniform in [-0.5, 0.5). */
    static Tensor tensor(Backend b, SplittableRandom r, int... shape) {
        float[] d = new float[(int) Shape.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = (float) (r.nextDouble() - 0.5);
        return b.upload(d, shape);
    }
}
