package dev.fovea.cuda;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
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
 * The CUDA backend's kernel ops ({@link KernelOps}, unchanged) on the host emulation of kernels.cu, with tensors in
 * native host memory; what cuBLAS and cuDNN serve on the GPU (GEMM, convolution, pooling) comes from the reference
 * here. A test backend: it lets the property suite check every hand-written kernel and its launch without a GPU.
 */
final class EmulatedCudaBackend extends Backend {
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

    // the kernels, exactly as the CUDA backend launches them
    @Override protected void activationForwardImpl(Activation f, Tensor x, Tensor y) { ops.activationForward(f, x, y); }
    @Override protected void activationBackwardImpl(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) { ops.activationBackward(f, x, y, dy, dx); }
    @Override protected void softmaxForwardImpl(Tensor x, Tensor y, boolean causal) { ops.softmaxForward(x, y, causal); }
    @Override protected void softmaxBackwardImpl(Tensor y, Tensor dy, Tensor dx) { ops.softmaxBackward(y, dy, dx); }
    @Override protected void crossEntropyForwardImpl(Tensor l, Tensor y, Tensor p, Tensor loss, float e) { ops.crossEntropyForward(l, y, p, loss, e); }
    @Override protected void crossEntropyBackwardImpl(Tensor p, Tensor y, Tensor dl, Tensor g, float e) { ops.crossEntropyBackward(p, y, dl, g, e); }
    @Override protected void layerNormForwardImpl(Tensor x, Tensor g, Tensor b, float eps, Tensor y, Tensor mu, Tensor rs, int dd) { ops.layerNormForward(x, g, b, eps, y, mu, rs, dd); }
    @Override protected void layerNormBackwardImpl(Tensor dy, Tensor x, Tensor g, Tensor mu, Tensor rs, Tensor dx, Tensor dg, Tensor db, int dd) {
        ops.layerNormBackward(dy, x, g, mu, rs, dx, dg, db, dd);
    }
    @Override protected void attentionForwardImpl(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, float s, boolean c) { ops.attentionForward(q, k, v, o, lse, s, c); }
    @Override protected void attentionBackwardImpl(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dout, Tensor dq, Tensor dk, Tensor dv, float s, boolean c) {
        ops.attentionBackward(q, k, v, o, lse, dout, dq, dk, dv, s, c);
    }
    @Override protected void attentionPackedForwardImpl(Tensor qkv, Tensor o, Tensor lse, float s, boolean c) { ops.attentionPackedForward(qkv, o, lse, s, c); }
    @Override protected void attentionPackedBackwardImpl(Tensor qkv, Tensor o, Tensor lse, Tensor dout, Tensor dqkv, float s, boolean c) {
        ops.attentionPackedBackward(qkv, o, lse, dout, dqkv, s, c);
    }
    @Override protected void binaryImpl(Binary kind, Tensor a, Tensor b, Tensor out) { ops.binary(kind, a, b, out); }
    @Override protected void scaleImpl(Tensor x, float alpha, Tensor out) { ops.scale(x, alpha, out); }
    @Override protected void axpyImpl(float alpha, Tensor x, Tensor y) { ops.axpy(alpha, x, y); }
    @Override protected void sumImpl(Tensor x, boolean[] reduce, Tensor out) { ops.sum(x, reduce, out); }
    @Override protected void permuteImpl(Tensor x, Tensor out, int[] perm) { ops.permute(x, out, perm); }
    @Override protected void sliceImpl(Tensor x, int axis, int start, Tensor out) { ops.slice(x, axis, start, out); }
    @Override protected void insertSliceImpl(Tensor src, int axis, int start, Tensor dst) { ops.insertSlice(src, axis, start, dst); }
    @Override protected void gatherImpl(Tensor table, Tensor idx, Tensor out) { ops.gather(table, idx, out); }
    @Override protected void scatterAddImpl(Tensor src, Tensor idx, Tensor table) { ops.scatterAdd(src, idx, table); }
    @Override protected void sgdStepImpl(Tensor p, Tensor g, Tensor v, float lr, float mu, float wd, boolean nesterov) { ops.sgdStep(p, g, v, lr, mu, wd, nesterov); }
    @Override protected void adamWStepImpl(Tensor p, Tensor g, Tensor m, Tensor v, int step, float lr, float b1, float b2, float eps, float wd) {
        ops.adamWStep(p, g, m, v, step, lr, b1, b2, eps, wd);
    }
}
