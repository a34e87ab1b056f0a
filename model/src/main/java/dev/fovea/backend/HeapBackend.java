package dev.fovea.backend;

import dev.fovea.tensor.HeapStorage;
import dev.fovea.tensor.Storage;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.SoftReference;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/** Memory ops for backends whose tensors live in Java float arrays on the host. */
public abstract class HeapBackend extends Backend {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final AtomicLong liveBytes = new AtomicLong();

    /** The array behind a tensor of this backend. */
    protected static float[] data(Tensor t) {
        return ((HeapStorage) t.storage()).data();
    }

    @Override public long bytesInUse() { return liveBytes.get(); }

    /**
     * Released arrays of at least {@link #RECYCLE_MIN} floats wait here for an allocation of the same length: a
     * training step or a forward pass allocates the same shapes every time, and a recycled array spares the JVM
     * zeroing megabytes and collecting them. A large forward pass holds dozens of arrays of one length until its
     * tape closes, so the limit per length is high: a low one makes every pass allocate most of them again. They are
     * held softly, so that the collector takes them back before it would run out of heap.
     */
    private final ConcurrentHashMap<Integer, ConcurrentLinkedDeque<SoftReference<float[]>>> recycled = new ConcurrentHashMap<>();
    private static final int RECYCLE_MIN = 4096, RECYCLE_PER_SIZE = 1024;

    private void recycle(float[] a) {
        ConcurrentLinkedDeque<SoftReference<float[]>> q = recycled.computeIfAbsent(a.length, k -> new ConcurrentLinkedDeque<>());
        if (q.size() < RECYCLE_PER_SIZE) q.push(new SoftReference<>(a));
    }

    private float[] reuse(int elements) {
        if (elements < RECYCLE_MIN) return null;
        ConcurrentLinkedDeque<SoftReference<float[]>> q = recycled.get(elements);
        if (q == null) return null;
        for (SoftReference<float[]> r; (r = q.poll()) != null; ) {
            float[] a = r.get();
            if (a != null) return a;
        }
        return null;
    }

    private Storage wrap(float[] a) {
        return a.length >= RECYCLE_MIN ? new HeapStorage(a, liveBytes, this::recycle) : new HeapStorage(a, liveBytes);
    }

    @Override protected Storage allocate(int elements) {
        float[] a = reuse(elements);
        if (a != null) Arrays.fill(a, 0f);
        return wrap(a != null ? a : new float[elements]);
    }

    @Override protected Storage allocateUninitialized(int elements) {
        float[] a = reuse(elements);
        return wrap(a != null ? a : new float[elements]);
    }

    @Override protected void uploadImpl(float[] src, Tensor dst) { System.arraycopy(src, 0, data(dst), 0, src.length); }

    @Override protected void uploadImpl(MemorySegment src, Tensor dst) {
        MemorySegment.copy(src, LE_FLOAT, 0, data(dst), 0, dst.numel());
    }

    @Override protected void downloadImpl(Tensor src, float[] dst) { System.arraycopy(data(src), 0, dst, 0, dst.length); }

    @Override protected void downloadImpl(Tensor src, MemorySegment dst) {
        MemorySegment.copy(data(src), 0, dst, LE_FLOAT, 0, src.numel());
    }

    @Override protected void copyImpl(Tensor src, Tensor dst) { System.arraycopy(data(src), 0, data(dst), 0, src.numel()); }

    @Override protected void fillImpl(Tensor t, float value) { Arrays.fill(data(t), value); }
}
