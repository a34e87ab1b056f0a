package dev.fovea.inference;

import java.util.List;

/** Inputs run through a model in batches: a long list is cut into runs of {@link #SIZE}. */
final class Batches {
    private Batches() {}

    /** Images run through the model at a time. */
    static final int SIZE = 64;

    /** inputs[from, from + count), each of {@code n} values, laid end to end: [count, n]; a wrong length names the input. */
    static float[] stack(List<float[]> inputs, int from, int count, int n, String shape) {
        float[] x = new float[count * n];
        for (int i = 0; i < count; i++) {
            float[] in = inputs.get(from + i);
            if (in.length != n) throw new IllegalArgumentException("input " + (from + i) + ": " + in.length + " values, the model takes " + shape + " = " + n);
            System.arraycopy(in, 0, x, i * n, n);
        }
        return x;
    }
}
