package dev.fovea.tensor;

import java.util.concurrent.atomic.AtomicLong;

/** Host storage as a Java float array: what the CPU and the reference backends compute on. */
public final class HeapStorage implements Storage {
    private float[] data;
    private final AtomicLong liveBytes;

    /** @param liveBytes the owning backend's counter of bytes in use, decremented on release */
    public HeapStorage(float[] data, AtomicLong liveBytes) {
        this.data = data;
        this.liveBytes = liveBytes;
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
            data = null;
        }
    }

    @Override public boolean isReleased() { return data == null; }
}
