package dev.fovea.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker pool: every index exactly once, failures surface in the caller, nesting and sharing never deadlock. */
class ParallelTest {
    @Test void everyIndexExactlyOnceOverManyCalls() {
        try (Parallel p = new Parallel(3)) {
            for (int call = 0; call < 2000; call++) {
                int n = call % 97 + 1;
                AtomicIntegerArray seen = new AtomicIntegerArray(n);
                p.forChunks(n, 1 + call % 5, (a, b) -> { for (int i = a; i < b; i++) seen.incrementAndGet(i); });
                for (int i = 0; i < n; i++) assertEquals(1, seen.get(i), "call " + call + " index " + i);
            }
        }
    }

    @Test void forRangeClaimsSmallChunksButNoneBelowTheGrain() {
        try (Parallel p = new Parallel(2)) {
            for (int n = 1; n <= 300; n += 7)
                for (int grain : new int[]{1, 5, 64}) {
                    AtomicIntegerArray seen = new AtomicIntegerArray(n);
                    java.util.List<int[]> chunks = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                    p.forRange(n, grain, (a, b) -> { chunks.add(new int[]{a, b}); for (int i = a; i < b; i++) seen.incrementAndGet(i); });
                    for (int i = 0; i < n; i++) assertEquals(1, seen.get(i), "n " + n + " grain " + grain + " index " + i);
                    int want = Math.min(2 * Parallel.CHUNKS_PER_THREAD, Math.max(1, n / grain));
                    assertEquals(want, chunks.size(), "chunks for n " + n + " grain " + grain);
                    for (int[] c : chunks) assertTrue(chunks.size() == 1 || c[1] - c[0] >= grain, "a chunk below the grain: " + c[0] + ".." + c[1]);
                }
        }
    }

    @Test void aFailingChunkFailsTheCallAndThePoolGoesOn() {
        try (Parallel p = new Parallel(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> p.forChunks(10, 2, (a, b) -> { if (a > 0) throw new IllegalStateException("chunk at " + a); }));
            assertTrue(e.getMessage().startsWith("chunk at"), e.getMessage());
            AtomicLong sum = new AtomicLong();
            p.forChunks(100, 2, (a, b) -> { for (int i = a; i < b; i++) sum.addAndGet(i); });
            assertEquals(4950, sum.get());
        }
    }

    @Test void nestedLoopsRunInlineAndTwoCallersShareThePool() throws Exception {
        try (Parallel p = new Parallel(2)) {
            AtomicLong total = new AtomicLong();
            Runnable work = () -> {
                for (int r = 0; r < 200; r++)
                    p.forChunks(8, 2, (a, b) -> p.forChunks(b - a, 2, (c, d) -> total.addAndGet(d - c)));
            };
            Thread other = Thread.ofPlatform().start(work);
            work.run();
            other.join();
            assertEquals(2 * 200 * 8, total.get());
        }
    }
}
