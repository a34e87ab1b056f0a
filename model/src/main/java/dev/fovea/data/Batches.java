package dev.fovea.data;

import java.util.SplittableRandom;

/** How an epoch is cut and varied: its seeded order of examples and augmentation's shifts and mirrors. */
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
     * Images {@code idx} of {@code d} normalised, [idx.length, 1, H, W]; with {@code augment}, each moved by up to a
     * pixel each way (two draws an image), then, if its class may be mirrored ({@link ImageDataset#mirrorable}),
     * mirrored left to right half the time (a third draw).
     */
    public static float[] images(ImageDataset d, int[] idx, SplittableRandom augment) {
        int n = d.imageSize();
        float[] x = new float[idx.length * n];
        for (int i = 0; i < idx.length; i++) {
            d.normalized(idx[i], x, i * n);
            if (augment == null) continue;
            shift(x, i * n, d.height(), d.width(), augment.nextInt(3) - 1, augment.nextInt(3) - 1);
            if (d.mirrorable(d.label(idx[i])) && augment.nextBoolean()) mirror(x, i * n, d.height(), d.width());
        }
        return x;
    }

    /** Mirrors the h×w image at x[off..] left to right. */
    public static void mirror(float[] x, int off, int h, int w) {
        for (int r = 0; r < h; r++)
            for (int a = off + r * w, b = a + w - 1; a < b; a++, b--) {
                float t = x[a];
                x[a] = x[b];
                x[b] = t;
            }
    }

    /** Moves the normalised h×w image at x[off..] by (dy, dx), filling with the background (a raw 0 pixel). */
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
