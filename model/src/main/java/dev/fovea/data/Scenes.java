package dev.fovea.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * "Fashion-MNIST scenes": 1..K Fashion-MNIST items placed at random on a dark square canvas, with what detection and
 * segmentation need: each item's class, its tight box and its mask (the item's pixels, intensity above
 * {@link #INK}), and a semantic label map (0 background, 1 + class). Items never overlap (their boxes are disjoint),
 * so every mask is whole. The same source, seed and settings give the same scenes.
 */
public final class Scenes {
    private Scenes() {}

    /** A source pixel belongs to the item when its intensity (0..1) exceeds this. */
    public static final float INK = 0.05f;

    /** One placed item: class, tight box [x, y, w, h] on the canvas, mask row-major over the canvas. */
    public record Item(int label, int sourceIndex, double[] box, byte[] mask) {}

    /** pixels row-major [size, size] in 0..1; semantic [size, size]: 0 background, 1 + class. */
    public record Scene(int size, float[] pixels, List<Item> items, int[] semantic) {}

    /**
     * Draws one scene: n items, n uniform in 1..maxItems; each a random image of {@code source}, scaled by a factor
     * in [0.75, 1.25] when {@code scale}, at a random place where its box meets no other (up to 100 tries; an item
     * that finds none is left out, so a scene may have fewer, never zero, items).
     */
    public static Scene draw(ImageDataset source, SplittableRandom rng, int size, int maxItems, boolean scale) {
        if (maxItems < 1) throw new IllegalArgumentException("scenes: --max-items must be >= 1, got " + maxItems);
        int side = Math.max(source.height(), source.width());
        if (size < (scale ? (int) Math.ceil(1.25 * side) : side))
            throw new IllegalArgumentException("scenes: a " + size + "x" + size + " canvas cannot hold a " + side + "-pixel item"
                    + (scale ? " scaled by up to 1.25" : ""));
        int n = 1 + rng.nextInt(maxItems);
        float[] canvas = new float[size * size];
        int[] semantic = new int[size * size];
        List<Item> items = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int index = rng.nextInt(source.count());
            float[] img = resized(source, index, scale ? 0.75 + 0.5 * rng.nextDouble() : 1.0);
            int h = (int) Math.round(Math.sqrt(img.length)), w = h;
            int[] ext = extent(img, h, w);                               // x0, y0, x1, y1 of the ink, inclusive
            if (ext == null) continue;                                    // a blank source image: nothing to place
            for (int attempt = 0; attempt < 100; attempt++) {
                int ox = rng.nextInt(size - w + 1), oy = rng.nextInt(size - h + 1);
                double[] box = {ox + ext[0], oy + ext[1], ext[2] - ext[0] + 1, ext[3] - ext[1] + 1};
                boolean free = true;
                for (Item it : items) free &= !overlaps(box, it.box());
                if (!free) continue;
                byte[] mask = new byte[size * size];
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        float v = img[y * w + x];
                        int at = (oy + y) * size + ox + x;
                        canvas[at] = Math.max(canvas[at], v);
                        if (v > INK) {
                            mask[at] = 1;
                            semantic[at] = 1 + source.label(index);
                        }
                    }
                items.add(new Item(source.label(index), index, box, mask));
                break;
            }
        }
        if (items.isEmpty()) return draw(source, rng, size, maxItems, scale);
        return new Scene(size, canvas, items, semantic);
    }

    private static boolean overlaps(double[] a, double[] b) {
        return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
    }

    /** The source image in 0..1, resized by {@code f} (bilinear, square). */
    private static float[] resized(ImageDataset src, int index, double f) {
        int h = src.height(), w = src.width(), off = index * h * w;
        float[] img = new float[h * w];
        for (int i = 0; i < img.length; i++) img[i] = (src.pixels()[off + i] & 0xff) / 255f;
        if (f == 1.0) return img;
        int s = Math.max(1, (int) Math.round(h * f));
        float[] out = new float[s * s];
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double sy = Math.min(h - 1, Math.max(0, (y + 0.5) * h / s - 0.5)), sx = Math.min(w - 1, Math.max(0, (x + 0.5) * w / s - 0.5));
                int y0 = (int) sy, x0 = (int) sx, y1 = Math.min(h - 1, y0 + 1), x1 = Math.min(w - 1, x0 + 1);
                double fy = sy - y0, fx = sx - x0;
                out[y * s + x] = (float) ((1 - fy) * ((1 - fx) * img[y0 * w + x0] + fx * img[y0 * w + x1])
                        + fy * ((1 - fx) * img[y1 * w + x0] + fx * img[y1 * w + x1]));
            }
        return out;
    }

    /** {x0, y0, x1, y1} of the pixels above {@link #INK}, or null if there are none. */
    private static int[] extent(float[] img, int h, int w) {
        int x0 = w, y0 = h, x1 = -1, y1 = -1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (img[y * w + x] > INK) {
                    x0 = Math.min(x0, x);
                    x1 = Math.max(x1, x);
                    y0 = Math.min(y0, y);
                    y1 = Math.max(y1, y);
                }
        return x1 < 0 ? null : new int[]{x0, y0, x1, y1};
    }
}
