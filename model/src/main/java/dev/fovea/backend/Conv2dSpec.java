package dev.fovea.backend;

/**
 * Geometry of a 2-D cross-correlation (PyTorch's conv2d): zero padding, stride and channel groups.
 * Shapes: x [N, C, H, W], w [O, C/groups, KH, KW], y [N, O, OH, OW] with OH = (H + 2·padH − KH) / strideH + 1.
 */
public record Conv2dSpec(int padH, int padW, int strideH, int strideW, int groups) {
    public Conv2dSpec {
        if (padH < 0 || padW < 0) throw new IllegalArgumentException("conv2d: padding must be >= 0, got " + padH + "," + padW);
        if (strideH < 1 || strideW < 1) throw new IllegalArgumentException("conv2d: stride must be >= 1, got " + strideH + "," + strideW);
        if (groups < 1) throw new IllegalArgumentException("conv2d: groups must be >= 1, got " + groups);
    }

    public static Conv2dSpec of(int pad, int stride) { return new Conv2dSpec(pad, pad, stride, stride, 1); }

    public Conv2dSpec withGroups(int g) { return new Conv2dSpec(padH, padW, strideH, strideW, g); }

    public int outH(int h, int kh) { return (h + 2 * padH - kh) / strideH + 1; }
    public int outW(int w, int kw) { return (w + 2 * padW - kw) / strideW + 1; }

    /** Output shape [N, O, OH, OW] for input x [N, C, H, W] and filter w [O, C/groups, KH, KW]. */
    public int[] outputShape(int[] x, int[] w) {
        return new int[]{x[0], w[0], outH(x[2], w[2]), outW(x[3], w[3])};
    }
}
