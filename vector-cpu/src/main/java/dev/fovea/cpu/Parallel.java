package dev.fovea.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/** A fixed number of worker threads and a parallel for-loop over index ranges, split into contiguous chunks. */
final class Parallel implements AutoCloseable {
    /** The body of a parallel loop: handles indices [from, to). */
    @FunctionalInterface
    interface Range { void run(int from, int to); }

    private final int threads;
    private final ForkJoinPool pool;

    Parallel(int threads) {
        this.threads = threads;
        this.pool = threads > 1 ? new ForkJoinPool(threads, p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("fovea-cpu-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false) : null;
    }

    int threads() { return threads; }

    /**
     * Runs body over [0, n) in at most {@code threads} chunks of at least {@code grain} indices; small loops run
     * on the calling thread.
     */
    void forRange(int n, int grain, Range body) {
        int chunks = Math.min(threads, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || pool == null) {
            if (n > 0) body.run(0, n);
            return;
        }
        forChunks(n, chunks, body);
    }

    /** Runs body over [0, n) split into exactly {@code chunks} near-equal parts (fewer if n is smaller). */
    void forChunks(int n, int chunks, Range body) {
        chunks = Math.min(chunks, n);
        if (chunks <= 1 || pool == null) {
            if (n > 0) body.run(0, n);
            return;
        }
        final int c = chunks;
        if (ForkJoinTask.inForkJoinPool()) {
            // already on a worker (nested parallelism): stay sequential rather than oversubscribe
            body.run(0, n);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[c - 1];
        for (int i = 1; i < c; i++) {
            final int from = (int) ((long) n * i / c), to = (int) ((long) n * (i + 1) / c);
            tasks[i - 1] = pool.submit(() -> body.run(from, to));
        }
        Throwable failure = null;
        try {
            body.run(0, (int) ((long) n / c));
        } catch (Throwable t) {
            failure = t;
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (Throwable e) {
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
        if (failure != null) throw new RuntimeException(failure);
    }

    @Override public void close() {
        if (pool != null) pool.shutdown();
    }
}
