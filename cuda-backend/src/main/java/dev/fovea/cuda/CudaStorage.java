package dev.fovea.cuda;

import dev.fovea.tensor.Storage;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/** A tensor's device memory: one block of the backend's {@link DeviceAllocator}, returned to it on release. */
final class CudaStorage implements Storage {
    private final DeviceAllocator allocator;
    private final AtomicLong liveBytes;
    private final long elements;
    private long address;

    CudaStorage(DeviceAllocator allocator, AtomicLong liveBytes, long elements) {
        this.allocator = allocator;
        this.liveBytes = liveBytes;
        this.elements = elements;
        this.address = allocator.allocate(4 * elements);
        liveBytes.addAndGet(4 * elements);
    }

    /** The device address; throws after release, so a use-after-close is an exception, not a wild write. */
    long address() {
        long a = address;
        if (a == 0) throw new IllegalStateException("tensor storage used after it was released");
        return a;
    }

    MemorySegment segment() { return MemorySegment.ofAddress(address()); }

    @Override public long elements() { return address == 0 ? 0 : elements; }

    @Override public synchronized void release() {
        if (address != 0) {
            allocator.release(address);
            liveBytes.addAndGet(-4 * elements);
            address = 0;
        }
    }

    @Override public boolean isReleased() { return address == 0; }
}
