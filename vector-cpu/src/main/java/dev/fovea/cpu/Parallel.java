package dev.fovea.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed set of worker threads and a parallel for-loop over index ranges, split into contiguous chunks that the
 * caller and the workers claim. Workers spin briefly between jobs before parking (as OpenMP runtimes do): a
 * training step issues thousands of short parallel ops, and waking a parked thread for each costs more than the
 * op. A loop started from inside a running loop, or while another thread owns the pool, runs on the caller alone.
 */
final class Parallel implements AutoCloseable {
    /** The body of a parallel loop: handles indices [from, to). */
    @FunctionalInterface
    interface Range { void run(int from, int to); }

    /** How long an idle worker spins for the next job before parking. */
    private static final long SPIN_NANOS = 50_000;

    /** One call's work: chunk i covers [n·i/chunks, n·(i+1)/chunks). */
    private static final class Job {
        final Range body;
        final int n, chunks;
        final AtomicInteger next = new AtomicInteger(), pending;
        final AtomicReference<Throwable> error = new AtomicReference<>();

        Job(Range body, int n, int chunks) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.pending = new AtomicInteger(chunks);
        }

        /** Claims and runs chunks until none are left. */
        void work() {
            int i;
            while ((i = next.getAndIncrement()) < chunks) {
                try {
                    body.run((int) ((long) n * i / chunks), (int) ((long) n * (i + 1) / chunks));
                } catch (Throwable t) {
                    error.compareAndSet(null, t);
                } finally {
                    pending.decrementAndGet();
                }
            }
        }
    }

    /** No workers: every loop runs on the caller (for GEMMs inside an already parallel loop). */
    static final Parallel SEQUENTIAL = new Parallel(1);

    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);

    private final int threads;
    private final Thread[] workers;
    private final boolean[] parked;
    private final ReentrantLock owner = new ReentrantLock();
    private volatile Job job;
    private volatile boolean closed;

    Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.parked = new boolean[threads - 1];
        for (int w = 0; w < workers.length; w++) {
            final int id = w;
            workers[w] = Thread.ofPlatform().daemon().name("fovea-cpu-" + (w + 1)).unstarted(() -> loop(id));
            workers[w].start();
        }
    }

    int threads() { return threads; }

    private void loop(int id) {
        INSIDE.set(true);
        Job seen = null;
        while (!closed) {
            Job j = job;
            if (j != null && j != seen) {
                seen = j;
                j.work();
                continue;
            }
            long until = System.nanoTime() + SPIN_NANOS;
            while (job == seen && !closed && System.nanoTime() < until) Thread.onSpinWait();
            if (job == seen && !closed) {
                synchronized (parked) { parked[id] = true; }
                if (job == seen && !closed) LockSupport.park(this);
                synchronized (parked) { parked[id] = false; }
            }
        }
    }

    /**
     * Chunks per thread in {@link #forRange}: on a shared machine one thread often runs slower than the other, and
     * with one chunk each a loop waits for the slow one; smaller chunks let the faster thread take more (the GEMM
     * claims its A panels the same way).
     */
    static final int CHUNKS_PER_THREAD = 4;

    /**
     * Runs body over [0, n) in at most {@code threads}·{@link #CHUNKS_PER_THREAD} chunks of at least {@code grain}
     * indices, claimed by whichever thread is free; small loops run on the calling thread.
     */
    void forRange(int n, int grain, Range body) {
        int chunks = Math.min(threads * CHUNKS_PER_THREAD, Math.max(1, n / Math.max(1, grain)));
        forChunks(n, chunks, body);
    }

    /** Runs body over [0, n) split into {@code chunks} near-equal parts (fewer if n is smaller). */
    void forChunks(int n, int chunks, Range body) {
        chunks = Math.min(chunks, n);
        if (chunks <= 1 || workers.length == 0 || INSIDE.get() || !owner.tryLock()) {
            if (n > 0) body.run(0, n);
            return;
        }
        try {
            INSIDE.set(true);
            Job j = new Job(body, n, chunks);
            job = j;
            synchronized (parked) {
                for (int w = 0; w < workers.length; w++) if (parked[w]) LockSupport.unpark(workers[w]);
            }
            j.work();
            for (int spins = 0; j.pending.get() > 0; spins++) {
                if (spins < 1 << 16) Thread.onSpinWait();
                else Thread.yield();
            }
            Throwable t = j.error.get();
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error er) throw er;
            if (t != null) throw new RuntimeException(t);
        } finally {
            INSIDE.set(false);
            owner.unlock();
        }
    }

    @Override public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
