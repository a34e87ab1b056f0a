package dev.fovea.backend;

/**
 * Max or average pooling over KH×KW windows with stride and zero padding (floor mode, as PyTorch by default).
 * Average pooling counts padded positions in the divisor, as PyTorch's {@code count_include_pad=True} does.
 * Max pooling never picks a padded position.
 */
public record Pool2dSpec(Mode mode, int kH, int kW, int strideH, int strideW, int padH, int padW) {
    public enum Mode { MAX, AVG }

    public Pool2dSpec {
        if (kH < 1 || kW < 1) throw new IllegalArgumentException("pool2d: kernel must be >= 1, got " + kH + "x" + kW);
        if (strideH < 1 || strideW < 1) throw new IllegalArgumentException("pool2d: stride must be >= 1");
        if (padH < 0 || padW < 0) throw new IllegalArgumentException("pool2d: padding must be >= 0");
        if (2 * padH > kH || 2 * padW > kW)
            throw new IllegalArgumentException("pool2d: padding must be at most half the kernel, got pad " + padH + "," + padW + " for kernel " + kH + "x" + kW);
    }

    public static Pool2dSpec max(int k, int stride, int pad) { return new Pool2dSpec(Mode.MAX, k, k, stride, stride, pad, pad); }
    public static Pool2dSpec avg(int k, int stride, int pad) { return new Pool2dSpec(Mode.AVG, k, k, stride, stride, pad, pad); }

    public int outH(int h) { return (h + 2 * padH - kH) / strideH + 1; }
    public int outW(int w) { return (w + 2 * padW - kW) / strideW + 1; }

    public int[] outputShape(int[] x) { return new int[]{x[0], x[1], outH(x[2]), outW(x[3])}; }
}
