package dev.fovea.backend;

import dev.fovea.tensor.HeapStorage;
import dev.fovea.tensor.Storage;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
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

    @Override protected Storage allocate(int elements) { return new HeapStorage(new float[elements], liveBytes); }

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
