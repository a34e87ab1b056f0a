package dev.fovea.data;

/**
 * Images as short sequences of discrete tokens, for a Transformer that draws them one token at a time: the 28×28
 * image is averaged down to 14×14, each pixel quantised to 4 grey levels, and each 2×2 patch of those levels read as
 * one token (4 pixels × 2 bits = 8 bits, 256 values), in raster order: 49 tokens an image.
 *
 * <p>Why these choices: quantised pixels of the full image would be 784 tokens (attention's cost grows with the
 * square of that); 14×14 keeps every class recognisable (a LeNet-5 trained on the full images still tells them
 * apart, see BENCHMARKS.md); grouping pixels into patch tokens makes the sequence 4× shorter again with a vocabulary
 * of 256, small enough to learn from 60,000 images. A learned codebook (VQ-VAE) would be more compact but is a
 * second model to train; this one is exact and has nothing to learn.
 */
public record ImageTokens(int side, int down, int levels, int patch) {
    /** The encoding described above, for 28×28 images. */
    public static final ImageTokens FASHION = new ImageTokens(28, 2, 4, 2);

    public ImageTokens {
        if (side % down != 0 || side / down % patch != 0)
            throw new IllegalArgumentException("image tokens: side " + side + " is not a multiple of down " + down + " × patch " + patch);
        if (levels < 2 || Math.pow(levels, patch * patch) > 1 << 16)
            throw new IllegalArgumentException("image tokens: " + levels + " levels in " + patch + "×" + patch + " patches is too many values per token");
    }

    /** The side of the quantised image (14). */
    public int small() { return side / down; }

    /** Tokens per image (49). */
    public int length() { int g = small() / patch; return g * g; }

    /** Values a token takes (256). */
    public int vocab() { return (int) Math.pow(levels, patch * patch); }

    /** Pixels per image of the quantised image, the "dimensions" of bits per dimension (196). */
    public int dims() { return small() * small(); }

    /** Image i of d (bytes, side × side) → its tokens. */
    public int[] encode(ImageDataset d, int i) {
        if (d.height() != side || d.width() != side)
            throw new IllegalArgumentException("image tokens: images of " + side + "×" + side + " expected, " + d.source() + " has " + d.height() + "×" + d.width());
        float[] unit = new float[side * side];
        int base = i * side * side;
        for (int j = 0; j < unit.length; j++) unit[j] = (d.pixels()[base + j] & 0xff) / 255f;
        return encode(unit);
    }

    /** Pixels in [0, 1], side × side row-major → tokens. */
    public int[] encode(float[] unit) {
        int s = small(), g = s / patch;
        int[] level = new int[s * s];
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double sum = 0;
                for (int dy = 0; dy < down; dy++)
                    for (int dx = 0; dx < down; dx++) sum += unit[(y * down + dy) * side + x * down + dx];
                double mean = sum / (down * down);
                level[y * s + x] = (int) Math.min(levels - 1, Math.max(0, Math.round(mean * (levels - 1))));
            }
        int[] tokens = new int[g * g];
        for (int ty = 0; ty < g; ty++)
            for (int tx = 0; tx < g; tx++) {
                int v = 0;
                for (int k = patch * patch - 1; k >= 0; k--) v = v * levels + level[(ty * patch + k / patch) * s + tx * patch + k % patch];
                tokens[ty * g + tx] = v;
            }
        return tokens;
    }

    /** Tokens → the quantised image's grey values in [0, 1], small × small. */
    public float[] levels(int[] tokens) {
        int s = small(), g = s / patch;
        if (tokens.length != g * g) throw new IllegalArgumentException("image tokens: " + g * g + " tokens an image, got " + tokens.length);
        float[] out = new float[s * s];
        for (int t = 0; t < tokens.length; t++) {
            int v = tokens[t];
            if (v < 0 || v >= vocab()) throw new IllegalArgumentException("image tokens: token " + v + " at " + t + " is not in [0, " + vocab() + ")");
            int ty = t / g, tx = t % g;
            for (int k = 0; k < patch * patch; k++, v /= levels)
                out[(ty * patch + k / patch) * s + tx * patch + k % patch] = (float) (v % levels) / (levels - 1);
        }
        return out;
    }

    /** Tokens → side × side bytes (each quantised pixel repeated over its down × down block), as the data set stores images. */
    public byte[] pixels(int[] tokens) {
        float[] l = levels(tokens);
        int s = small();
        byte[] out = new byte[side * side];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++) out[y * side + x] = (byte) Math.round(255 * l[(y / down) * s + x / down]);
        return out;
    }

    /** The data set as this encoding sees it: every image encoded and decoded again (what a perfect generator draws). */
    public ImageDataset quantised(ImageDataset d) {
        byte[] px = new byte[d.count() * side * side];
        for (int i = 0; i < d.count(); i++) System.arraycopy(pixels(encode(d, i)), 0, px, i * side * side, side * side);
        return new ImageDataset(d.source() + " (as image tokens)", d.count(), side, side, px, d.labels(), d.classes(), d.names());
    }
}
