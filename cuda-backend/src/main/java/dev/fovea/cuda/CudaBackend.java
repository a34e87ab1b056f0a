package dev.fovea.cuda;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Epilogue;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.backend.Precision;
import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.cuda.ffm.cublas.Cublas;
import dev.fovea.cuda.ffm.cudart.CudaRuntime;
import dev.fovea.cuda.ffm.cudart.cudaDeviceProp;
import dev.fovea.cuda.ffm.cudnn.Cudnn;
import dev.fovea.tensor.Storage;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CUDA backend: tensors in device memory from a caching allocator, all work queued on one stream; GEMM on
 * cuBLAS (cuBLASLt when an epilogue adds a bias or a residual), convolution and pooling on cuDNN, everything else
 * on the NVRTC-compiled kernels of {@code kernels.cu}. The host waits for the device only where it reads: downloads,
 * uploads (their pinned staging buffer is reused), and the index checks of cross-entropy, gather and scatter-add.
 *
 * <p>Precision ({@link BackendOptions#precision()}): FP32 keeps every product in float32 (cuBLAS's FP32 compute
 * type, cuDNN's FMA math); TF32 lets cuBLAS and cuDNN use TF32 tensor cores; BF16 makes cuBLAS round the GEMM
 * operands to bfloat16 (accumulating in float32) and runs convolutions in TF32 (cuDNN's legacy API converts only to
 * FP16). The NVRTC kernels compute in float32 in every mode.
 */
public final class CudaBackend extends KernelBackend {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long CUBLAS_WORKSPACE = 32L << 20;

    final int device;
    private final Precision precision;
    private final Arena arena = Arena.ofShared();
    // created in this order by the constructor, released in reverse by close() (also after a failed constructor)
    final DeviceAllocator allocator;
    MemorySegment stream;
    private MemorySegment blas, blasLt, dnn;
    private final AtomicLong liveBytes = new AtomicLong();
    private Kernels kernels;
    private KernelOps ops;
    private CudnnPlans plans;
    private LtGemm lt;
    private final String deviceName;
    private final int computeCapability;
    private final long totalMemory;
    private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);
    private MemorySegment staging = MemorySegment.NULL;
    private long stagingBytes;
    private volatile boolean capturing;
    private boolean closed;

    public CudaBackend(BackendOptions options) { this(options, 0); }

    public CudaBackend(BackendOptions options, int device) {
        for (CudaLibraries.Lib l : List.of(CudaLibraries.Lib.CUDART, CudaLibraries.Lib.CUBLAS, CudaLibraries.Lib.CUDNN, CudaLibraries.Lib.NVRTC))
            CudaLibraries.require(l);
        this.device = device;
        this.precision = options.precision();
        bind();
        MemorySegment prop = cudaDeviceProp.allocate(arena);
        CudaException.cuda(CudaRuntime.cudaGetDeviceProperties(prop, device), "cudaGetDeviceProperties");
        deviceName = cudaDeviceProp.name(prop).getString(0);
        totalMemory = cudaDeviceProp.totalGlobalMem(prop);
        computeCapability = 10 * attribute(CudaRuntime.cudaDevAttrComputeCapabilityMajor()) + attribute(CudaRuntime.cudaDevAttrComputeCapabilityMinor());
        allocator = new DeviceAllocator(this::bind);
        try {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaException.cuda(CudaRuntime.cudaStreamCreateWithFlags(out, CudaRuntime.cudaStreamNonBlocking()), "cudaStreamCreateWithFlags");
            stream = out.get(ValueLayout.ADDRESS, 0);

            CudaException.cublas(Cublas.cublasCreate_v2(out), "cublasCreate");
            blas = out.get(ValueLayout.ADDRESS, 0);
            CudaException.cublas(Cublas.cublasSetStream_v2(blas, stream), "cublasSetStream");
            CudaException.cublas(Cublas.cublasSetMathMode(blas, precision == Precision.TF32 ? Cublas.CUBLAS_TF32_TENSOR_OP_MATH() : Cublas.CUBLAS_DEFAULT_MATH()), "cublasSetMathMode");
            // a fixed workspace: cuBLAS then never allocates during a graph capture
            long workspace = allocator.allocate(CUBLAS_WORKSPACE);
            CudaException.cublas(Cublas.cublasSetWorkspace_v2(blas, MemorySegment.ofAddress(workspace), CUBLAS_WORKSPACE), "cublasSetWorkspace");
            CudaException.cublas(Cublas.cublasLtCreate(out), "cublasLtCreate");
            blasLt = out.get(ValueLayout.ADDRESS, 0);
            lt = new LtGemm(blasLt, computeType());

            CudaException.cudnn(Cudnn.cudnnCreate(out), "cudnnCreate");
            dnn = out.get(ValueLayout.ADDRESS, 0);
            CudaException.cudnn(Cudnn.cudnnSetStream(dnn, stream), "cudnnSetStream");
            plans = new CudnnPlans(dnn, precision);

            kernels = new Kernels(computeCapability, stream);
            ops = new KernelOps(this, (name, gx, gy, block, shared, args) -> {
                bind();
                kernels.launch(name, gx, gy, block, shared, args);
            }, CudaBackend::ptr, () -> capturing);
        } catch (RuntimeException | Error e) {
            close(); // what was created so far
            throw e;
        }
    }

    private int attribute(int attr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            CudaException.cuda(CudaRuntime.cudaDeviceGetAttribute(v, attr, device), "cudaDeviceGetAttribute");
            return v.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** Makes this backend's device current on the calling thread (the CUDA context is per thread). */
    void bind() {
        if (!bound.get()) {
            CudaException.cuda(CudaRuntime.cudaSetDevice(device), "cudaSetDevice(" + device + ")");
            bound.set(true);
        }
    }

    private int computeType() {
        return switch (precision) {
            case FP32 -> Cublas.CUBLAS_COMPUTE_32F();
            case TF32 -> Cublas.CUBLAS_COMPUTE_32F_FAST_TF32();
            case BF16 -> Cublas.CUBLAS_COMPUTE_32F_FAST_16BF();
        };
    }

    private String cublasVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            if (Cublas.cublasGetVersion_v2(blas, v) != 0) return "?";
            int x = v.get(ValueLayout.JAVA_INT, 0);
            return x / 10000 + "." + x / 100 % 100 + "." + x % 100;
        }
    }

    @Override KernelOps ops() { return ops; }

    public Precision precision() { return precision; }
    public String deviceName() { return deviceName; }
    public int computeCapability() { return computeCapability; }

    @Override public String name() { return "cuda"; }

    @Override public String describe() {
        return "cuda: " + deviceName + " (device " + device + ", compute capability " + computeCapability / 10 + "." + computeCapability % 10
                + String.format(", %.1f GiB), precision %s%n", totalMemory / 1073741824.0, precision)
                + "  " + CudaBackendProvider.versions() + ", cuBLAS " + cublasVersion() + "\n"
                + "  gemm: cuBLAS (cublasGemmStridedBatchedEx); with a bias or residual epilogue: cuBLASLt matmul\n"
                + "  conv2d forward/backward, pooling: cuDNN " + "(algorithm per shape from the _v7 heuristics, cached)\n"
                + "  element-wise, reductions, softmax, cross-entropy, layer norm, attention (tiled, online softmax, packed qkv read in place),"
                + " gather/scatter, layout, SGD/AdamW: NVRTC kernels (kernels.cu, PTX for compute_" + computeCapability + ")\n"
                + String.format("  memory: caching allocator, %.1f MiB reserved, one stream", allocator.reservedBytes() / 1048576.0);
    }

    /** Bytes of live tensors (their element counts × 4); the allocator's size classes round this up. */
    @Override public long bytesInUse() { return liveBytes.get(); }

    /** Device bytes the allocator holds from the driver (in tensors, cached or owned by graphs). */
    public long bytesReserved() { return allocator.reservedBytes(); }

    /** Waits until the device has done everything queued so far. */
    @Override public void synchronize() {
        bind();
        CudaException.cuda(CudaRuntime.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        bind();
        if (stream != null) CudaRuntime.cudaStreamSynchronize(stream);
        if (ops != null) ops.close();
        if (kernels != null) kernels.close();
        if (plans != null) plans.close();
        if (lt != null) lt.close();
        if (dnn != null) Cudnn.cudnnDestroy(dnn);
        if (blasLt != null) Cublas.cublasLtDestroy(blasLt);
        if (blas != null) Cublas.cublasDestroy_v2(blas);
        if (stagingBytes > 0) CudaRuntime.cudaFreeHost(staging);
        allocator.close();
        if (stream != null) CudaRuntime.cudaStreamDestroy(stream);
        arena.close();
    }

    // ---------------------------------------------------------------- memory

    static long ptr(Tensor t) { return ((CudaStorage) t.storage()).address(); }
    static MemorySegment seg(Tensor t) { return ((CudaStorage) t.storage()).segment(); }

    /** A tensor's device memory, for libraries that work on it directly (NCCL); the backend still owns it. */
    public static MemorySegment devicePointer(Tensor t) {
        if (!(t.storage() instanceof CudaStorage s)) throw new IllegalArgumentException("not a CUDA tensor: " + t);
        return s.segment();
    }

    /** The one stream all of this backend's work is queued on (cudaStream_t), for libraries that queue work with it. */
    public MemorySegment stream() { return stream; }
    private static MemorySegment seg(long address) { return MemorySegment.ofAddress(address); }

    @Override protected Storage allocate(int elements) {
        CudaStorage s = new CudaStorage(allocator, liveBytes, elements);
        bind();
        CudaException.cuda(CudaRuntime.cudaMemsetAsync(s.segment(), 0, 4L * elements, stream), "cudaMemsetAsync");
        return s;
    }

    @Override protected Storage allocateUninitialized(int elements) { return new CudaStorage(allocator, liveBytes, elements); }

    /** The pinned host buffer that uploads and downloads go through, grown to at least {@code bytes}. */
    private MemorySegment staging(long bytes) {
        if (bytes > stagingBytes) {
            if (stagingBytes > 0) CudaRuntime.cudaFreeHost(staging);
            stagingBytes = 0;
            long size = Math.max(bytes, 1 << 20);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                CudaException.cuda(CudaRuntime.cudaMallocHost(out, size), "cudaMallocHost(" + size + " bytes)");
                staging = out.get(ValueLayout.ADDRESS, 0).reinterpret(size);
            }
            stagingBytes = size;
        }
        return staging;
    }

    private void noCapture(String op) {
        if (capturing) throw new IllegalStateException(op + " reads or writes host memory and cannot be part of a CUDA graph capture");
    }

    private synchronized void toDevice(Tensor dst, java.util.function.Consumer<MemorySegment> fill) {
        noCapture("upload");
        bind();
        long bytes = 4L * dst.numel();
        if (bytes == 0) return;
        MemorySegment host = staging(bytes);
        fill.accept(host);
        CudaException.cuda(CudaRuntime.cudaMemcpyAsync(seg(dst), host, bytes, CudaRuntime.cudaMemcpyHostToDevice(), stream), "cudaMemcpyAsync(upload)");
        synchronize(); // the staging buffer is reused by the next transfer
    }

    private synchronized void toHost(Tensor src, java.util.function.Consumer<MemorySegment> drain) {
        noCapture("download");
        bind();
        long bytes = 4L * src.numel();
        if (bytes == 0) return;
        MemorySegment host = staging(bytes);
        CudaException.cuda(CudaRuntime.cudaMemcpyAsync(host, seg(src), bytes, CudaRuntime.cudaMemcpyDeviceToHost(), stream), "cudaMemcpyAsync(download)");
        synchronize();
        drain.accept(host);
    }

    @Override protected void uploadImpl(float[] src, Tensor dst) {
        toDevice(dst, h -> MemorySegment.copy(src, 0, h, ValueLayout.JAVA_FLOAT, 0, src.length));
    }

    @Override protected void uploadImpl(MemorySegment src, Tensor dst) {
        toDevice(dst, h -> MemorySegment.copy(src, LE_FLOAT, 0, h, ValueLayout.JAVA_FLOAT, 0, dst.numel()));
    }

    @Override protected void downloadImpl(Tensor src, float[] dst) {
        toHost(src, h -> MemorySegment.copy(h, ValueLayout.JAVA_FLOAT, 0, dst, 0, dst.length));
    }

    @Override protected void downloadImpl(Tensor src, MemorySegment dst) {
        toHost(src, h -> MemorySegment.copy(h, ValueLayout.JAVA_FLOAT, 0, dst, LE_FLOAT, 0, src.numel()));
    }

    @Override protected void copyImpl(Tensor src, Tensor dst) {
        if (src.numel() == 0 || src.storage() == dst.storage()) return;
        bind();
        CudaException.cuda(CudaRuntime.cudaMemcpyAsync(seg(dst), seg(src), 4L * src.numel(), CudaRuntime.cudaMemcpyDeviceToDevice(), stream), "cudaMemcpyAsync(copy)");
    }

    @Override protected void fillImpl(Tensor t, float value) {
        bind();
        if (Float.floatToRawIntBits(value) == 0) {
            CudaException.cuda(CudaRuntime.cudaMemsetAsync(seg(t), 0, 4L * t.numel(), stream), "cudaMemsetAsync");
            return;
        }
        ops.fill(t, value);
    }

    // ---------------------------------------------------------------- GEMM

    @Override protected void gemmImpl(int batch, int m, int n, int k, Tensor a, boolean transA, long strideA,
                                      Tensor b, boolean transB, long strideB, Tensor c, float alpha, float beta) {
        if (m == 0 || n == 0 || batch == 0) return;
        bind();
        // row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: B's buffer first, as cuBLAS sees it
        try (Arena ar = Arena.ofConfined()) {
            CudaException.cublas(Cublas.cublasGemmStridedBatchedEx(blas,
                    transB ? Cublas.CUBLAS_OP_T() : Cublas.CUBLAS_OP_N(), transA ? Cublas.CUBLAS_OP_T() : Cublas.CUBLAS_OP_N(),
                    n, m, k, ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha),
                    seg(b), Cublas.CUDA_R_32F(), transB ? k : n, strideB,
                    seg(a), Cublas.CUDA_R_32F(), transA ? m : k, strideA,
                    ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta), seg(c), Cublas.CUDA_R_32F(), n, (long) m * n, batch,
                    computeType(), Cublas.CUBLAS_GEMM_DEFAULT()), "cublasGemmStridedBatchedEx");
        }
    }

    @Override protected void gemmEpilogueImpl(int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB, Tensor c,
                                              float alpha, float beta, Epilogue e) {
        if (m == 0 || n == 0) return;
        bind();
        long bias = e.bias() == null ? 0 : ptr(e.bias());
        if (e.residual() == null) {
            if (lt.matmul(stream, m, n, k, ptr(a), transA, ptr(b), transB, ptr(c), ptr(c), alpha, beta, bias, allocator)) return;
        } else if (beta == 0) { // D = α·AB + 1·residual (+ bias): C and D distinct, as cuBLASLt allows
            if (lt.matmul(stream, m, n, k, ptr(a), transA, ptr(b), transB, ptr(e.residual()), ptr(c), alpha, 1f, bias, allocator)) return;
        }
        // a residual with β ≠ 0, or no cuBLASLt algorithm for this shape: the GEMM, then the additions
        super.gemmEpilogueImpl(m, n, k, a, transA, b, transB, c, alpha, beta, e);
    }

    // ---------------------------------------------------------------- convolution (cuDNN)

    @Override protected void conv2dForwardImpl(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s) {
        if (y.numel() == 0) return;
        bind();
        plans.convForward(x, w, y, s, allocator);
        if (bias != null) ops.addChannelBias(y, bias);
    }

    @Override protected void conv2dBackwardDataImpl(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s) {
        if (dx.numel() == 0) return;
        bind();
        plans.convBackwardData(dy, w, dx, s, allocator);
    }

    @Override protected void conv2dBackwardFilterImpl(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s) {
        if (dw.numel() == 0) return;
        bind();
        if (dy.numel() == 0) { fillImpl(dw, 0f); return; }
        plans.convBackwardFilter(x, dy, dw, s, allocator);
    }

    @Override protected void conv2dBackwardBiasImpl(Tensor dy, Tensor db) {
        bind();
        if (dy.numel() == 0) { fillImpl(db, 0f); return; }
        plans.convBackwardBias(dy, db);
    }

    // ---------------------------------------------------------------- pooling (cuDNN)

    @Override protected void pool2dForwardImpl(Pool2dSpec s, Tensor x, Tensor y) {
        if (y.numel() == 0) return;
        bind();
        plans.poolForward(s, x, y);
    }

    @Override protected void pool2dBackwardImpl(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        if (dx.numel() == 0) return;
        bind();
        plans.poolBackward(s, x, y, dy, dx);
    }

    // ---------------------------------------------------------------- CUDA graphs

    /**
     * Records everything {@code body} queues as a CUDA graph, to replay with {@link CudaGraph#replay()}: one launch
     * for a whole training step instead of one per op. The body must queue device work only (no upload or download,
     * no value that changes between replays but is passed as a kernel argument, such as a scheduled learning rate),
     * and the tensors it reads and writes must stay open while the graph is used.
     */
    public synchronized CudaGraph capture(Runnable body) {
        bind();
        allocator.beginCapture();
        capturing = true;
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        CudaException.cuda(CudaRuntime.cudaStreamBeginCapture(stream, CudaRuntime.cudaStreamCaptureModeRelaxed()), "cudaStreamBeginCapture");
        RuntimeException failure = null;
        try {
            body.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        int rc = CudaRuntime.cudaStreamEndCapture(stream, out);
        capturing = false;
        List<Long> blocks = allocator.endCapture();
        MemorySegment graph = out.get(ValueLayout.ADDRESS, 0);
        if (failure != null || rc != 0) {
            if (rc == 0) CudaRuntime.cudaGraphDestroy(graph);
            allocator.returnGraphBlocks(blocks);
            if (failure != null) throw failure;
            CudaException.cuda(rc, "cudaStreamEndCapture");
        }
        MemorySegment exec = arena.allocate(ValueLayout.ADDRESS);
        int irc = CudaRuntime.cudaGraphInstantiate(exec, graph, 0L);
        if (irc != 0) {
            CudaRuntime.cudaGraphDestroy(graph);
            allocator.returnGraphBlocks(blocks);
            CudaException.cuda(irc, "cudaGraphInstantiate");
        }
        return new CudaGraph(this, graph, exec.get(ValueLayout.ADDRESS, 0), blocks);
    }

    void graphClosed(CudaGraph g, List<Long> blocks) {
        synchronize();
        allocator.returnGraphBlocks(blocks);
    }
}
