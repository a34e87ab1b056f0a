package dev.fovea.data;

/**
 * Pillow's resampling, the one both timm's image transforms (PIL {@code Image.resize}) and PyTorch's antialiased
 * {@code F.interpolate} use: separable, width first then height; each output sample a weighted sum of the inputs under
 * the filter centred on it; the filter widened by the scale when shrinking (the antialiasing); each output's weights
 * normalised to sum to one; no taps outside the image. Two data paths share the taps: floats accumulated in double (as
 * PyTorch does for tensors: position embeddings) and 8-bit images in Pillow's 22-bit fixed point, rounded and
 * clamped to 0..255 after each pass (as Pillow does for "L" and "RGB" images), so that a resized image equals
 * Pillow's sample for sample.
 */
public final class Resample {
    private Resample() {}

    /** The filters Pillow names BICUBIC (Keys' cubic, a = -0.5) and BILINEAR (the triangle). */
    public enum Filter {
        BICUBIC(2), BILINEAR(1);

        /** The filter's half-width at scale 1, in input samples. */
        final double support;

        Filter(double support) { this.support = support; }

        double weight(double x) {
            x = Math.abs(x);
            return switch (this) {
                case BICUBIC -> {
                    final double a = -0.5;
                    if (x < 1) yield ((a + 2) * x - (a + 3)) * x * x + 1;
                    if (x < 2) yield (((x - 5) * x + 8) * x - 4) * a;
                    yield 0;
                }
                case BILINEAR -> x < 1 ? 1 - x : 0;
            };
        }

        /** "bicubic" or "bilinear", as timm's configs write it; anything else is refused. */
        public static Filter parse(String name) {
            return switch (name.strip().toLowerCase(java.util.Locale.ROOT)) {
                case "bicubic" -> BICUBIC;
                case "bilinear" -> BILINEAR;
                default -> throw new IllegalArgumentException("interpolation \"" + name + "\" is not one Fovea resizes with (bicubic, bilinear)");
            };
        }

        public String id() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** For each output index: the first input index, how many inputs, and their normalised weights. */
    record Taps(int[] first, int[] size, double[][] weight) {}

    static Taps taps(Filter f, int in, int out) {
        double scale = (double) in / out;
        double filterScale = Math.max(scale, 1);
        double support = f.support * filterScale;
        int[] first = new int[out], size = new int[out];
        double[][] weight = new double[out][];
        for (int i = 0; i < out; i++) {
            double center = scale * (i + 0.5);
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), in);
            double[] w = new double[hi - lo];
            double total = 0;
            for (int j = 0; j < w.length; j++) total += w[j] = f.weight((j + lo - center + 0.5) / filterScale);
            if (total != 0) for (int j = 0; j < w.length; j++) w[j] /= total;
            first[i] = lo;
            size[i] = w.length;
            weight[i] = w;
        }
        return new Taps(first, size, weight);
    }

    /**
     * A grid of vectors [h, w, d] (row-major, starting at {@code offset}) resized to [newH, newW, d] with the
     * antialiased bicubic, in double precision.
     */
    public static float[] bicubic(float[] src, int offset, int h, int w, int d, int newH, int newW) {
        if (newH < 1 || newW < 1) throw new IllegalArgumentException("resample: the new grid " + newH + "x" + newW + " is empty");
        Taps rows = taps(Filter.BICUBIC, h, newH), cols = taps(Filter.BICUBIC, w, newW);
        double[] mid = new double[h * newW * d];                      // [h, newW, d]
        for (int y = 0; y < h; y++)
            for (int x = 0; x < newW; x++)
                for (int j = 0; j < cols.size[x]; j++) {
                    double wt = cols.weight[x][j];
                    int s = offset + (y * w + cols.first[x] + j) * d, t = (y * newW + x) * d;
                    for (int c = 0; c < d; c++) mid[t + c] += wt * src[s + c];
                }
        float[] out = new float[newH * newW * d];
        for (int y = 0; y < newH; y++)
            for (int x = 0; x < newW; x++)
                for (int c = 0; c < d; c++) {
                    double s = 0;
                    for (int j = 0; j < rows.size[y]; j++) s += rows.weight[y][j] * mid[((rows.first[y] + j) * newW + x) * d + c];
                    out[(y * newW + x) * d + c] = (float) s;
                }
        return out;
    }

    /** Pillow's fixed-point precision for 8-bit images: 32 bits less 8 for the sample and 2 for the sign and overflow. */
    private static final int PRECISION_BITS = 32 - 8 - 2;

    /**
     * 8-bit planes [c, h, w] resized to [c, newH, newW] as Pillow resizes an "L" or "RGB" image: a pass that
     * changes nothing is skipped, the width pass runs first, each pass rounds and clamps to 0..255.
     */
    public static byte[] resize(byte[] src, int c, int h, int w, int newH, int newW, Filter f) {
        if (newH < 1 || newW < 1) throw new IllegalArgumentException("resize: the new size " + newW + "x" + newH + " is empty");
        if (src.length != c * h * w) throw new IllegalArgumentException("resize: " + src.length + " samples are not " + c + "x" + h + "x" + w);
        byte[] cur = src;
        if (newW != w) {
            Taps t = taps(f, w, newW);
            int[][] k = fixed(t);
            byte[] out = new byte[c * h * newW];
            for (int p = 0; p < c * h; p++)                              // every row of every plane
                for (int x = 0; x < newW; x++) out[p * newW + x] = clip8(dot(cur, p * w + t.first[x], 1, k[x]));
            cur = out;
        }
        if (newH != h) {
            Taps t = taps(f, h, newH);
            int[][] k = fixed(t);
            byte[] out = new byte[c * newH * newW];
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < newH; y++)
                    for (int x = 0; x < newW; x++)
                        out[(ch * newH + y) * newW + x] = clip8(dot(cur, (ch * h + t.first[y]) * newW + x, newW, k[y]));
            cur = out;
        }
        return cur == src ? src.clone() : cur;
    }

    /** Pillow's normalize_coeffs_8bpc: each weight scaled to fixed point, rounded half away from zero. */
    private static int[][] fixed(Taps t) {
        int[][] k = new int[t.weight.length][];
        for (int i = 0; i < k.length; i++) {
            k[i] = new int[t.weight[i].length];
            for (int j = 0; j < k[i].length; j++) {
                double v = t.weight[i][j] * (1 << PRECISION_BITS);
                k[i][j] = (int) (v < 0 ? v - 0.5 : v + 0.5);
            }
        }
        return k;
    }

    private static int dot(byte[] src, int start, int stride, int[] k) {
        int s = 1 << (PRECISION_BITS - 1);                            // rounds the final shift
        for (int j = 0; j < k.length; j++) s += (src[start + j * stride] & 0xff) * k[j];
        return s;
    }

    private static byte clip8(int v) {
        if (v >= 1 << PRECISION_BITS << 8) return (byte) 255;
        if (v <= 0) return 0;
        return (byte) (v >> PRECISION_BITS);
    }
}
