package dev.fovea.tensor;

import java.util.Arrays;

/** Helpers for shapes as int arrays: sizes, strides and readable formatting for error messages. */
public final class Shape {
    private Shape() {}

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + str(shape));
            n *= d;
        }
        return n;
    }

    /** Row-major strides, in elements. */
    public static int[] strides(int... shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    public static String str(int... shape) {
        return Arrays.toString(shape);
    }

    /** Product of the dimensions in [from, to). */
    public static int prod(int[] shape, int from, int to) {
        int p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }
}
