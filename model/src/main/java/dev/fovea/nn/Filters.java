package dev.fovea.nn;

import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Classic image filters as the lecture shows them: a small kernel slid over the image (cross-correlation, as
 * conv2d computes it), each channel on its own.
 */
public final class Filters {
    private Filters() {}

    /** The named kernels, as rows. */
    public static final Map<String, float[][]> KERNELS = new LinkedHashMap<>();
    static {
        KERNELS.put("identity", new float[][]{{0, 0, 0}, {0, 1, 0}, {0, 0, 0}});
        KERNELS.put("edge", new float[][]{{0, -1, 0}, {-1, 4, -1}, {0, -1, 0}});
        KERNELS.put("edge8", new float[][]{{-1, -1, -1}, {-1, 8, -1}, {-1, -1, -1}});
        KERNELS.put("sharpen", new float[][]{{0, -1, 0}, {-1, 5, -1}, {0, -1, 0}});
        float n = 1f / 9;
        KERNELS.put("box-blur", new float[][]{{n, n, n}, {n, n, n}, {n, n, n}});
    }

    /** A named kernel, or rows typed as "0,1,0;1,-4,1;0,1,0" (commas or spaces between values, ';' between rows). */
    public static float[][] kernel(String spec) {
        float[][] k = KERNELS.get(spec.trim().toLowerCase(Locale.ROOT));
        return k != null ? k : matrix(spec, "kernel");
    }

    /** Parses "r1;r2;..." into a rectangular matrix; {@code what} names it in errors. */
    public static float[][] matrix(String spec, String what) {
        String[] rows = spec.trim().split("\\s*;\\s*");
        List<float[]> out = new ArrayList<>();
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].isBlank()) continue;
            String[] f = rows[r].trim().split("\\s*[,\\s]\\s*");
            float[] row = new float[f.length];
            for (int c = 0; c < f.length; c++) {
                try {
                    row[c] = Float.parseFloat(f[c]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(what + " \"" + spec + "\": row " + (r + 1) + ", value " + (c + 1) + " \"" + f[c] + "\" is not a number"
                            + (what.equals("kernel") ? " (named kernels: " + String.join(", ", KERNELS.keySet()) + ")" : ""));
                }
            }
            if (!out.isEmpty() && row.length != out.get(0).length)
                throw new IllegalArgumentException(what + " \"" + spec + "\": row " + (r + 1) + " has " + row.length + " values, row 1 has " + out.get(0).length);
            out.add(row);
        }
        if (out.isEmpty()) throw new IllegalArgumentException(what + " is empty");
        return out.toArray(float[][]::new);
    }

    /**
     * Applies the kernel to every channel of planes [C, H, W] with zero padding and stride, by the backend's conv2d
     * (a depthwise convolution: groups = C). Returns [C, OH, OW].
     */
    public static Tensor apply(Backend be, Tensor planes, float[][] k, int padding, int stride) {
        int c = planes.dim(0), h = planes.dim(1), w = planes.dim(2), kh = k.length, kw = k[0].length;
        if (padding < 0) throw new IllegalArgumentException("padding must be >= 0, got " + padding);
        if (stride < 1) throw new IllegalArgumentException("stride must be >= 1, got " + stride);
        if (h + 2 * padding < kh || w + 2 * padding < kw)
            throw new IllegalArgumentException("a " + kh + "x" + kw + " kernel does not fit a " + h + "x" + w + " input with padding " + padding);
        float[] wt = new float[c * kh * kw];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < kh; y++) System.arraycopy(k[y], 0, wt, (ch * kh + y) * kw, kw);
        Conv2dSpec s = Conv2dSpec.of(padding, stride).withGroups(c);
        try (Tensor weight = be.upload(wt, c, 1, kh, kw)) {
            Tensor x = planes.reshape(1, c, h, w);
            int[] ys = s.outputShape(x.shape(), weight.shape());
            Tensor y = be.zeros(ys[1], ys[2], ys[3]);
            be.conv2dForward(x, weight, null, y.reshape(ys), s);
            return y;
        }
    }
}
