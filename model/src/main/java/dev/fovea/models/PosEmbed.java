package dev.fovea.models;

/**
 * Resamples learned 1D position embeddings to another patch grid, as timm's {@code resample_abs_pos_embed} does when
 * a checkpoint meets another image size: the prefix (class token) rows are kept, the patch rows are read as an
 * H×W×D image and resized with PyTorch's antialiased bicubic ({@code F.interpolate(mode="bicubic", antialias=True)}).
 * That resampler is Pillow's: Keys' cubic with a = -0.5, its support widened by the scale when shrinking, each
 * output's weights normalised to sum to one, no taps outside the image.
 */
public final class PosEmbed {
    private PosEmbed() {}

    /**
     * posemb [1, prefix + oldH*oldW, dim] (row-major) → [1, prefix + newH*newW, dim].
     */
    public static float[] resample(float[] posemb, int prefix, int oldH, int oldW, int newH, int newW, int dim) {
        int expected = (prefix + oldH * oldW) * dim;
        if (posemb.length != expected)
            throw new IllegalArgumentException("pos_embed: expected " + expected + " values for " + prefix + " prefix tokens and a "
                    + oldH + "x" + oldW + " grid of width " + dim + ", got " + posemb.length);
        if (newH < 1 || newW < 1) throw new IllegalArgumentException("pos_embed: new grid " + newH + "x" + newW + " is empty");
        float[] out = new float[(prefix + newH * newW) * dim];
        System.arraycopy(posemb, 0, out, 0, prefix * dim);
        Taps rows = taps(oldH, newH), cols = taps(oldW, newW);
        // width first, then height (as Pillow does); accumulate in double
        double[] mid = new double[oldH * newW * dim];       // [oldH, newW, dim]
        for (int y = 0; y < oldH; y++)
            for (int x = 0; x < newW; x++)
                for (int j = 0; j < cols.size[x]; j++) {
                    double w = cols.weight[x][j];
                    int src = (prefix + y * oldW + cols.first[x] + j) * dim, dst = (y * newW + x) * dim;
                    for (int c = 0; c < dim; c++) mid[dst + c] += w * posemb[src + c];
                }
        for (int y = 0; y < newH; y++)
            for (int x = 0; x < newW; x++) {
                int dst = (prefix + y * newW + x) * dim;
                for (int c = 0; c < dim; c++) {
                    double s = 0;
                    for (int j = 0; j < rows.size[y]; j++) s += rows.weight[y][j] * mid[((rows.first[y] + j) * newW + x) * dim + c];
                    out[dst + c] = (float) s;
                }
            }
        return out;
    }

    /** For each output index: the first input index, how many inputs, and their normalised weights. */
    private record Taps(int[] first, int[] size, double[][] weight) {}

    private static Taps taps(int in, int out) {
        double scale = (double) in / out;
        double filterScale = Math.max(scale, 1);          // shrinking widens the kernel: the antialiasing
        double support = 2 * filterScale;                 // bicubic's support is 2 taps either side
        int[] first = new int[out], size = new int[out];
        double[][] weight = new double[out][];
        for (int i = 0; i < out; i++) {
            double center = scale * (i + 0.5);
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), in);
            double[] w = new double[hi - lo];
            double total = 0;
            for (int j = 0; j < w.length; j++) total += w[j] = cubic((j + lo - center + 0.5) / filterScale);
            if (total != 0) for (int j = 0; j < w.length; j++) w[j] /= total;
            first[i] = lo;
            size[i] = w.length;
            weight[i] = w;
        }
        return new Taps(first, size, weight);
    }

    /** Keys' cubic convolution kernel with a = -0.5. */
    static double cubic(double x) {
        final double a = -0.5;
        x = Math.abs(x);
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }
}
