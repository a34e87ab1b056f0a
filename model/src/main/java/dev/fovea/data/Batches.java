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

    /** Shuffled with a permutation drawn from {@code seed} (the same seed gives the same order), or in order if null. */
    public Batches(ImageDataset data, int batch, Long seed) {
        if (batch < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batch);
        this.data = data;
        this.batch = batch;
        this.order = permutation(data.count(), seed);
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
            y[i] = data.label(k);
        }
        return new Batch(size, x, y, idx);
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
