package dev.fovea.data;

import java.util.SplittableRandom;

/** How an epoch is cut and varied: its seeded order of examples and the pixel shifts of augmentation. */
public final class Batches {
    private Batches() {}

    /** Fisher–Yates with a SplittableRandom: the same seed gives the same order; identity when seed is null. */
    public static int[] permutation(int n, Long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        if (seed == null) return p;
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /**
     * Images {@code idx} of {@code d} normalised, [idx.length, 1, H, W]; with {@code shifts}, each moved by up to a
     * pixel each way, two draws an image.
     */
    public static float[] images(ImageDataset d, int[] idx, SplittableRandom shifts) {
        int n = d.imageSize();
        float[] x = new float[idx.length * n];
        for (int i = 0; i < idx.length; i++) {
            d.normalized(idx[i], x, i * n);
            if (shifts != null) shift(x, i * n, d.height(), d.width(), shifts.nextInt(3) - 1, shifts.nextInt(3) - 1);
        }
        return x;
    }

    /**
     * Moves the normalised h×w image at x[off..] by (dy, dx), filling with the background (a raw 0 pixel). No flips:
     * Fashion-MNIST's shoes face one way (all ankle boots, 99.7% of sneakers), and a mirrored one is an image the
     * test set never shows.
     */
    public static void shift(float[] x, int off, int h, int w, int dy, int dx) {
        float[] src = java.util.Arrays.copyOfRange(x, off, off + h * w);
        float background = (0f - ImageDataset.MEAN) / ImageDataset.STD;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                int sr = r - dy, sc = c - dx;
                x[off + r * w + c] = sr >= 0 && sr < h && sc >= 0 && sc < w ? src[sr * w + sc] : background;
            }
    }
}
