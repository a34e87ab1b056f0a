package dev.fovea.cuda;

import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.reference.Ref;
import dev.fovea.tensor.Storage;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CUDA backend's kernel ops ({@link KernelBackend}, {@link KernelOps}: unchanged) on the host emulation of kernels.cu, with tensors in
 * native host memory; what cuBLAS and cuDNN serve on the GPU (GEMM, convolution, pooling) comes from the reference
 * here. A test backend: it lets the property suite check every hand-written kernel and its launch without a GPU.
 */
final class EmulatedCudaBackend extends KernelBackend {
    private static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final AtomicLong live = new AtomicLong();
    private final KernelOps ops = new KernelOps(this, EmulatedKernels.get(), t -> seg(t).address(), () -> false);

    /** Native memory of its own arena, closed on release. */
    private final class HostStorage implements Storage {
        private final long elements;
        private Arena arena;
        private final MemorySegment seg;

        HostStorage(long elements) {
            this.elements = elements;
            arena = Arena.ofShared();
            seg = arena.allocate(Math.max(4, 4 * elements), 256);
            live.addAndGet(4 * elements);
        }

        @Override public long elements() { return arena == null ? 0 : elements; }

        @Override public synchronized void release() {
            if (arena != null) {
                arena.close();
                arena = null;
                live.addAndGet(-4 * elements);
            }
        }

        @Override public boolean isReleased() { return arena == null; }
    }

    static MemorySegment seg(Tensor t) {
        HostStorage s = (HostStorage) t.storage();
        if (s.isReleased()) throw new IllegalStateException("tensor storage used after it was released");
        return s.seg;
    }

    @Override KernelOps ops() { return ops; }

    @Override public String name() { return "cuda-emulated"; }
    @Override public String describe() { return "cuda-emulated: kernels.cu on the host (test), gemm/conv/pool by the reference"; }
    @Override public long bytesInUse() { return live.get(); }
    @Override public void close() { ops.close(); }

    @Override protected Storage allocate(int elements) { return new HostStorage(elements); }

    private static double[] d(Tensor t) {
        double[] r = new double[t.numel()];
        MemorySegment s = seg(t);
        for (int i = 0; i < r.length; i++) r[i] = s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
        return r;
    }

    private static void put(double[] v, Tensor t) {
        MemorySegment s = seg(t);
        for (int i = 0; i < v.length; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v[i]);
    }

    @Override protected void uploadImpl(float[] src, Tensor dst) { MemorySegment.copy(src, 0, seg(dst), ValueLayout.JAVA_FLOAT, 0, src.length); }
    @Override protected void uploadImpl(MemorySegment src, Tensor dst) { MemorySegment.copy(src, LE, 0, seg(dst), ValueLayout.JAVA_FLOAT, 0, dst.numel()); }
    @Override protected void downloadImpl(Tensor src, float[] dst) { MemorySegment.copy(seg(src), ValueLayout.JAVA_FLOAT, 0, dst, 0, dst.length); }
    @Override protected void downloadImpl(Tensor src, MemorySegment dst) { MemorySegment.copy(seg(src), ValueLayout.JAVA_FLOAT, 0, dst, LE, 0, src.numel()); }
    @Override protected void copyImpl(Tensor src, Tensor dst) { MemorySegment.copy(seg(src), 0, seg(dst), 0, 4L * src.numel()); }

    @Override protected void fillImpl(Tensor t, float value) {
        if (Float.floatToRawIntBits(value) == 0) seg(t).asSlice(0, 4L * t.numel()).fill((byte) 0);
        else ops.fill(t, value);
    }

    // what the libraries do on the GPU: the reference
    @Override protected void gemmImpl(int batch, int m, int n, int k, Tensor a, boolean transA, long strideA,
                                      Tensor b, boolean transB, long strideB, Tensor c, float alpha, float beta) {
        double[] cv = d(c);
        Ref.gemm(batch, m, n, k, d(a), transA, strideA, d(b), transB, strideB, cv, alpha, beta);
        put(cv, c);
    }

    @Override protected void conv2dForwardImpl(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s) {
        put(Ref.conv2d(d(x), x.shape(), d(w), w.shape(), null, s), y);
        if (bias != null) ops.addChannelBias(y, bias); // as the CUDA backend adds it
    }

    @Override protected void conv2dBackwardDataImpl(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s) {
        put(Ref.conv2dBackward(new double[dx.numel()], dx.shape(), d(w), w.shape(), d(dy), s)[0], dx);
    }

    @Override protected void conv2dBackwardFilterImpl(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s) {
        put(Ref.conv2dBackward(d(x), x.shape(), new double[dw.numel()], dw.shape(), d(dy), s)[1], dw);
    }

    @Override protected void conv2dBackwardBiasImpl(Tensor dy, Tensor db) {
        int[] ys = dy.shape();
        double[] v = d(dy), out = new double[ys[1]];
        for (int i = 0; i < v.length; i++) out[(i / (ys[2] * ys[3])) % ys[1]] += v[i];
        put(out, db);
    }

    @Override protected void pool2dForwardImpl(Pool2dSpec s, Tensor x, Tensor y) { put(Ref.pool(s, d(x), x.shape()), y); }
    @Override protected void pool2dBackwardImpl(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx) { put(Ref.poolBackward(s, d(x), x.shape(), d(dy)), dx); }
}
