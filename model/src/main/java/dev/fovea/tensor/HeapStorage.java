package dev.fovea.tensor;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/** Host storage as a Java float array: what the CPU and the reference backends compute on. */
public final class HeapStorage implements Storage {
    private float[] data;
    private final AtomicLong liveBytes;
    private final Consumer<float[]> recycler;

    /** @param liveBytes the owning backend's counter of bytes in use, decremented on release */
    public HeapStorage(float[] data, AtomicLong liveBytes) { this(data, liveBytes, null); }

    /** @param recycler receives the array on release, for reuse by a later allocation (may be null) */
    public HeapStorage(float[] data, AtomicLong liveBytes, Consumer<float[]> recycler) {
        this.data = data;
        this.liveBytes = liveBytes;
        this.recycler = recycler;
        liveBytes.addAndGet(4L * data.length);
    }

    /** The array itself (not a copy). */
    public float[] data() {
        float[] d = data;
        if (d == null) throw new IllegalStateException("tensor storage used after it was released");
        return d;
    }

    @Override public long elements() { return data == null ? 0 : data.length; }

    @Override public synchronized void release() {
        if (data != null) {
            liveBytes.addAndGet(-4L * data.length);
            if (recycler != null) recycler.accept(data);
            data = null;
        }
    }

    @Override public boolean isReleased() { return data == null; }
}
