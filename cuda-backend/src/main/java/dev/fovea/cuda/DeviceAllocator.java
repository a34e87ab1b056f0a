package dev.fovea.cuda;

import dev.fovea.cuda.ffm.cudart.CudaRuntime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A caching allocator of device memory, as PyTorch's: blocks of a size class are kept when released and handed to the
 * next request of that class, so a training step of fixed shapes calls cudaMalloc only in its first step and never
 * cudaFree. All work runs on one stream, so a block released by a tensor whose last kernel is still queued can be
 * handed out at once: any later use of it is queued after that kernel (stream order).
 *
 * <p>Size classes: multiples of 512 bytes below 1 MiB, of 2 MiB above. While a CUDA graph is being captured, released
 * blocks go to that graph's pool instead (its replays write into them), and return to the cache when the graph closes.
 */
final class DeviceAllocator implements AutoCloseable {
    private static final long SMALL = 512, LARGE = 2L << 20, SMALL_LIMIT = 1L << 20;

    private final Runnable bind;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private final Map<Long, Long> blockSize = new HashMap<>();
    private Map<Long, ArrayDeque<Long>> capturePool;
    private long inUse, cached, reserved, mallocs;
    private boolean closed;

    /** @param bind makes the device current on the calling thread */
    DeviceAllocator(Runnable bind) { this.bind = bind; }

    static long sizeClass(long bytes) {
        long b = Math.max(bytes, 1);
        long unit = b < SMALL_LIMIT ? SMALL : LARGE;
        return (b + unit - 1) / unit * unit;
    }

    /** A device block of at least {@code bytes}; contents unspecified. */
    synchronized long allocate(long bytes) {
        if (closed) throw new IllegalStateException("the cuda backend was closed");
        long size = sizeClass(bytes);
        Long p = take(capturePool, size);
        if (p == null) p = take(free, size);
        if (p != null) {
            cached -= size;
        } else {
            p = malloc(size);
        }
        inUse += size;
        return p;
    }

    private static Long take(Map<Long, ArrayDeque<Long>> pool, long size) {
        if (pool == null) return null;
        ArrayDeque<Long> q = pool.get(size);
        return q == null || q.isEmpty() ? null : q.pop();
    }

    private long malloc(long size) {
        bind.run();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            int rc = CudaRuntime.cudaMalloc(out, size);
            if (rc != 0) {
                CudaRuntime.cudaGetLastError(); // clear the sticky-free error before retrying
                releaseCached();
                rc = CudaRuntime.cudaMalloc(out, size);
            }
            if (rc != 0) {
                CudaRuntime.cudaGetLastError();
                throw new CudaException(String.format("out of device memory: cudaMalloc of %.1f MiB failed (%s); Fovea holds %.1f MiB in tensors, %.1f MiB reserved",
                        size / 1048576.0, CudaException.cudaError(rc), inUse / 1048576.0, reserved / 1048576.0));
            }
            long p = out.get(ValueLayout.ADDRESS, 0).address();
            blockSize.put(p, size);
            reserved += size;
            mallocs++;
            return p;
        }
    }

    /** Gives the block back to the cache (or, during a capture, to the graph's pool). */
    synchronized void release(long p) {
        if (closed) return; // the backend closed first: its close() already freed every block
        Long size = blockSize.get(p);
        if (size == null) throw new IllegalStateException("device block 0x" + Long.toHexString(p) + " was not allocated here");
        inUse -= size;
        cached += size;
        (capturePool != null ? capturePool : free).computeIfAbsent(size, k -> new ArrayDeque<>()).push(p);
    }

    /** Frees every cached block (device memory back to the driver). */
    synchronized void releaseCached() {
        bind.run();
        CudaRuntime.cudaDeviceSynchronize();
        for (var e : free.entrySet())
            for (long p : e.getValue()) {
                CudaRuntime.cudaFree(MemorySegment.ofAddress(p));
                blockSize.remove(p);
                reserved -= e.getKey();
                cached -= e.getKey();
            }
        free.clear();
    }

    /** From now on released blocks are kept for the graph being captured. */
    synchronized void beginCapture() {
        if (capturePool != null) throw new IllegalStateException("a CUDA graph capture is already in progress");
        capturePool = new HashMap<>();
    }

    /** Ends the capture; the returned blocks belong to the graph until {@link #returnGraphBlocks}. */
    synchronized List<Long> endCapture() {
        List<Long> owned = new ArrayList<>();
        if (capturePool != null) for (ArrayDeque<Long> q : capturePool.values()) owned.addAll(q);
        for (long p : owned) cached -= blockSize.get(p);
        inUse += owned.stream().mapToLong(blockSize::get).sum();
        capturePool = null;
        return owned;
    }

    synchronized void returnGraphBlocks(List<Long> blocks) {
        for (long p : blocks) release(p);
    }

    /** Bytes of blocks handed out (size classes, so at least the tensors' bytes). */
    synchronized long blocksInUse() { return inUse; }
    synchronized long cachedBytes() { return cached; }
    synchronized long reservedBytes() { return reserved; }
    synchronized long mallocCount() { return mallocs; }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        bind.run();
        CudaRuntime.cudaDeviceSynchronize();
        for (long p : blockSize.keySet()) CudaRuntime.cudaFree(MemorySegment.ofAddress(p));
        blockSize.clear();
        free.clear();
        reserved = cached = inUse = 0;
    }
}
