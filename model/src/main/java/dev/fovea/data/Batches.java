package dev.fovea.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One epoch of batches of normalised images [B, 1, H, W] and float labels [B], in a seeded shuffled order (or in
 * file order), the next batch prepared on a background thread while the caller computes on the current one.
 * The last, smaller batch is kept.
 */
public final class Batches implements Iterator<Batches.Batch>, AutoCloseable {
    public record Batch(int size, float[] images, float[] labels, int[] indices) {}

    private final ImageDataset data;
    private final int batch;
    private final int[] order;
    private final ExecutorService worker;
    private int next;
    private CompletableFuture<Batch> pending;

    private final SplittableRandom augment;

    /** Shuffled with a permutation drawn from {@code seed} (the same seed gives the same order), or in order if null. */
    public Batches(ImageDataset data, int batch, Long seed) { this(data, batch, seed, false); }

    /**
     * With {@code augment} (and a seed), each image is also shifted by up to 1 pixel in each direction (the
     * background fills in), drawn from the same seed. No flips: Fashion-MNIST's shoes face one way (all ankle
     * boots, 99.7% of sneakers), and a mirrored one is an image the test set never shows.
     */
    public Batches(ImageDataset data, int batch, Long seed, boolean augment) {
        if (batch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batch);
        this.data = data;
        this.batch = batch;
        this.order = permutation(data.count(), seed);
        this.augment = augment && seed != null ? new SplittableRandom(seed ^ 0x5DEECE66DL) : null;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fovea-batches");
            t.setDaemon(true);
            return t;
        });
        prefetch();
    }

    /** Fisher–Yates with a SplittableRandom: identity when seed is null. */
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

    public int count() { return (data.count() + batch - 1) / batch; }

    private void prefetch() {
        if (next >= order.length) { pending = null; return; }
        int start = next, size = Math.min(batch, order.length - start);
        next += size;
        pending = CompletableFuture.supplyAsync(() -> make(start, size), worker);
    }

    private Batch make(int start, int size) {
        int n = data.imageSize();
        float[] x = new float[size * n], y = new float[size];
        int[] idx = new int[size];
        for (int i = 0; i < size; i++) {
            int k = order[start + i];
            idx[i] = k;
            data.normalized(k, x, i * n);
            if (augment != null) shift(x, i * n, data.height(), data.width(), augment.nextInt(3) - 1, augment.nextInt(3) - 1);
            y[i] = data.label(k);
        }
        return new Batch(size, x, y, idx);
    }

    private float[] scratch = new float[0];

    /** Moves the image at off by (dy, dx), filling with the background (a raw 0 pixel). */
    private void shift(float[] x, int off, int h, int w, int dy, int dx) {
        if (scratch.length < h * w) scratch = new float[h * w];
        System.arraycopy(x, off, scratch, 0, h * w);
        float background = (0f - ImageDataset.MEAN) / ImageDataset.STD;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                int sr = r - dy, sc = c - dx;
                x[off + r * w + c] = sr >= 0 && sr < h && sc >= 0 && sc < w ? scratch[sr * w + sc] : background;
            }
    }

    @Override public boolean hasNext() { return pending != null; }

    @Override public Batch next() {
        if (pending == null) throw new NoSuchElementException();
        Batch b = pending.join();
        prefetch();
        return b;
    }

    @Override public void close() { worker.shutdownNow(); }
}
