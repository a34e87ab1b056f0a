package dev.fovea.cuda;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
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
import dev.fovea.tensor.Shape;
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
public final class CudaBackend extends Backend {
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long CUBLAS_WORKSPACE = 32L << 20;

    final int device;
    private final Precision precision;
    private final Arena arena = Arena.ofShared();
    final MemorySegment stream;
    private final MemorySegment blas, blasLt, dnn;
    final DeviceAllocator allocator;
    private final AtomicLong liveBytes = new AtomicLong();
    private final Kernels kernels;
    private final CudnnPlans plans;
    private final LtGemm lt;
    private final String deviceName;
    private final int computeCapability;
    private final long totalMemory;
    private final long blasWorkspace, flag;
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

        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        CudaException.cuda(CudaRuntime.cudaStreamCreateWithFlags(out, CudaRuntime.cudaStreamNonBlocking()), "cudaStreamCreateWithFlags");
        stream = out.get(ValueLayout.ADDRESS, 0);
        allocator = new DeviceAllocator(this::bind);

        CudaException.cublas(Cublas.cublasCreate_v2(out), "cublasCreate");
        blas = out.get(ValueLayout.ADDRESS, 0);
        CudaException.cublas(Cublas.cublasSetStream_v2(blas, stream), "cublasSetStream");
        CudaException.cublas(Cublas.cublasSetMathMode(blas, precision == Precision.TF32 ? Cublas.CUBLAS_TF32_TENSOR_OP_MATH() : Cublas.CUBLAS_DEFAULT_MATH()), "cublasSetMathMode");
        // a fixed workspace: cuBLAS then never allocates during a graph capture
        blasWorkspace = allocator.allocate(CUBLAS_WORKSPACE);
        CudaException.cublas(Cublas.cublasSetWorkspace_v2(blas, MemorySegment.ofAddress(blasWorkspace), CUBLAS_WORKSPACE), "cublasSetWorkspace");
        CudaException.cublas(Cublas.cublasLtCreate(out), "cublasLtCreate");
        blasLt = out.get(ValueLayout.ADDRESS, 0);
        lt = new LtGemm(blasLt, computeType());

        CudaException.cudnn(Cudnn.cudnnCreate(out), "cudnnCreate");
        dnn = out.get(ValueLayout.ADDRESS, 0);
        CudaException.cudnn(Cudnn.cudnnSetStream(dnn, stream), "cudnnSetStream");
        plans = new CudnnPlans(dnn, precision);

        kernels = new Kernels(computeCapability, stream);
        flag = allocator.allocate(4);
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

    public Precision precision() { return precision; }
    public String deviceName() { return deviceName; }
    public int computeCapability() { return computeCapability; }

    @Override public String name() { return "cuda"; }

    @Override public String describe() {
        return "cuda: " + deviceName + " (device " + device + ", compute capability " + computeCapability / 10 + "." + computeCapability % 10
                + String.format(", %.1f GiB), precision %s%n", totalMemory / 1073741824.0, precision)
                + "  " + CudaBackendProvider.versions() + "\n"
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
        CudaRuntime.cudaStreamSynchronize(stream);
        kernels.close();
        plans.close();
        lt.close();
        Cudnn.cudnnDestroy(dnn);
        Cublas.cublasLtDestroy(blasLt);
        Cublas.cublasDestroy_v2(blas);
        if (stagingBytes > 0) CudaRuntime.cudaFreeHost(staging);
        allocator.close();
        CudaRuntime.cudaStreamDestroy(stream);
        arena.close();
    }

    // ---------------------------------------------------------------- memory

    static long ptr(Tensor t) { return ((CudaStorage) t.storage()).address(); }
    static MemorySegment seg(Tensor t) { return ((CudaStorage) t.storage()).segment(); }
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
        long n = t.numel();
        launch("fill", Kernels.blocksFor(n), a -> a.ptr(ptr(t)).f(value).l(n));
    }

    private void launch(String kernel, int blocks, Kernels.ArgWriter w) {
        bind();
        kernels.launch(kernel, blocks, 1, 256, 0, w);
    }

    /** One block per row: rows (capped, the kernels loop) and threads (a multiple of 32, up to 256) for rows of n. */
    private void launchRows(String kernel, int rows, int n, Kernels.ArgWriter w) {
        bind();
        int threads = Math.clamp((n + 31) / 32 * 32, 32, 256);
        kernels.launch(kernel, Math.min(rows, 1 << 20), 1, threads, 0, w);
    }

    // ---------------------------------------------------------------- index checks

    /** Resets the device flag that the index-checking kernels lower to the first bad position. */
    private void armFlag() {
        CudaException.cuda(CudaRuntime.cudaMemsetAsync(seg(flag), 0x7f, 4, stream), "cudaMemsetAsync(flag)");
    }

    /** The first bad position the last checked kernel saw, or -1; not read (no sync) while capturing a graph. */
    private synchronized int badPosition() {
        if (capturing) return -1;
        MemorySegment h = staging(4);
        CudaException.cuda(CudaRuntime.cudaMemcpyAsync(h, seg(flag), 4, CudaRuntime.cudaMemcpyDeviceToHost(), stream), "cudaMemcpyAsync(flag)");
        synchronize();
        int v = h.get(ValueLayout.JAVA_INT, 0);
        return v == 0x7f7f7f7f ? -1 : v;
    }

    private float valueAt(Tensor t, int i) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(4);
            CudaException.cuda(CudaRuntime.cudaMemcpy(h, seg(ptr(t) + 4L * i), 4, CudaRuntime.cudaMemcpyDeviceToHost()), "cudaMemcpy");
            return h.get(ValueLayout.JAVA_FLOAT, 0);
        }
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
        long cIn = ptr(c);
        float betaIn = beta;
        if (e.residual() != null) {
            if (beta == 0) {
                cIn = ptr(e.residual()); // D = αAB + 1·residual (+ bias), C and D distinct, as cuBLASLt allows
            } else {
                axpyImpl(1f / beta, e.residual(), c); // c + residual/β, so that β·(that) = β·c + residual
            }
            betaIn = beta == 0 ? 1f : beta;
        }
        lt.matmul(stream, m, n, k, ptr(a), transA, ptr(b), transB, cIn, ptr(c), alpha, betaIn,
                e.bias() == null ? 0 : ptr(e.bias()), allocator);
    }

    // ---------------------------------------------------------------- convolution (cuDNN)

    @Override protected void conv2dForwardImpl(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s) {
        if (y.numel() == 0) return;
        bind();
        plans.convForward(x, w, y, s, allocator);
        if (bias != null) {
            long n = y.numel(), hw = (long) y.dim(2) * y.dim(3);
            launch("addChannelBias", Kernels.blocksFor(n), a -> a.ptr(ptr(y)).ptr(ptr(bias)).i(y.dim(1)).l(hw).l(n));
        }
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

    // ---------------------------------------------------------------- activations

    @Override protected void activationForwardImpl(Activation f, Tensor x, Tensor y) {
        long n = x.numel();
        launch("activationForward", Kernels.blocksFor(n), a -> a.i(f.ordinal()).ptr(ptr(x)).ptr(ptr(y)).l(n));
    }

    @Override protected void activationBackwardImpl(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        long n = x.numel();
        launch("activationBackward", Kernels.blocksFor(n), a -> a.i(f.ordinal()).ptr(ptr(x)).ptr(ptr(y)).ptr(ptr(dy)).ptr(ptr(dx)).l(n));
    }

    // ---------------------------------------------------------------- softmax and cross-entropy

    @Override protected void softmaxForwardImpl(Tensor x, Tensor y, boolean causal) {
        int n = x.dim(-1), rows = n == 0 ? 0 : x.numel() / n, t = causal ? x.dim(-2) : 1;
        launchRows("softmaxForward", rows, n, a -> a.ptr(ptr(x)).ptr(ptr(y)).i(rows).i(n).i(t).i(causal ? 1 : 0));
    }

    @Override protected void softmaxBackwardImpl(Tensor y, Tensor dy, Tensor dx) {
        int n = y.dim(-1), rows = n == 0 ? 0 : y.numel() / n;
        launchRows("softmaxBackward", rows, n, a -> a.ptr(ptr(y)).ptr(ptr(dy)).ptr(ptr(dx)).i(rows).i(n));
    }

    private void labelError(Tensor labels, int classes) {
        int bad = badPosition();
        if (bad >= 0)
            throw new IllegalArgumentException("crossEntropy: labels[" + bad + "] = " + valueAt(labels, bad) + " is not a class index in [0, " + classes + ")");
    }

    @Override protected void crossEntropyForwardImpl(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing) {
        int rows = logits.dim(0), c = logits.dim(1);
        bind();
        armFlag();
        try (Tensor rowLoss = empty(rows)) {
            launchRows("crossEntropyRows", rows, c, a -> a.ptr(ptr(logits)).ptr(ptr(labels)).ptr(ptr(probs)).ptr(ptr(rowLoss))
                    .i(rows).i(c).f(smoothing).ptr(flag));
            kernels.launch("meanOf", 1, 1, 256, 0, a -> a.ptr(ptr(rowLoss)).ptr(ptr(loss)).i(rows));
        }
        labelError(labels, c);
    }

    @Override protected void crossEntropyBackwardImpl(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing) {
        int rows = probs.dim(0), c = probs.dim(1);
        long n = (long) rows * c;
        bind();
        armFlag();
        launch("crossEntropyBackward", Kernels.blocksFor(n), a -> a.ptr(ptr(probs)).ptr(ptr(labels)).ptr(ptr(dloss)).ptr(ptr(dlogits))
                .i(rows).i(c).f(smoothing).ptr(flag));
        labelError(labels, c);
    }

    // ---------------------------------------------------------------- layer norm

    @Override protected void layerNormForwardImpl(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, int d) {
        int rows = d == 0 ? 0 : x.numel() / d;
        launchRows("layerNormForward", rows, d, a -> a.ptr(ptr(x)).ptr(ptr(gamma)).ptr(ptr(beta)).f(eps)
                .ptr(ptr(y)).ptr(ptr(mean)).ptr(ptr(rstd)).i(rows).i(d));
    }

    private static final int LN_CHUNK = 64;

    @Override protected void layerNormBackwardImpl(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                                   Tensor dx, Tensor dgamma, Tensor dbeta, int d) {
        int rows = d == 0 ? 0 : x.numel() / d;
        if (rows == 0) { fillImpl(dgamma, 0f); fillImpl(dbeta, 0f); return; }
        launchRows("layerNormBackwardData", rows, d, a -> a.ptr(ptr(dy)).ptr(ptr(x)).ptr(ptr(gamma)).ptr(ptr(mean)).ptr(ptr(rstd))
                .ptr(ptr(dx)).i(rows).i(d));
        int chunks = (rows + LN_CHUNK - 1) / LN_CHUNK;
        try (Tensor part = empty(2, chunks, d)) {
            long n = (long) chunks * d;
            launch("layerNormBackwardParams", Kernels.blocksFor(n), a -> a.ptr(ptr(dy)).ptr(ptr(x)).ptr(ptr(mean)).ptr(ptr(rstd))
                    .ptr(ptr(part)).i(rows).i(d).i(LN_CHUNK));
            launch("colSum", Kernels.blocksFor(d), a -> a.ptr(ptr(part)).ptr(ptr(dgamma)).i(chunks).i(d));
            launch("colSum", Kernels.blocksFor(d), a -> a.ptr(ptr(part) + 4 * n).ptr(ptr(dbeta)).i(chunks).i(d));
        }
    }

    // ---------------------------------------------------------------- fused attention

    /** Strided [B, H, T, D] view of an operand (see kernels.cu's View): base address and strides in elements. */
    private record View(long base, long sB, long sH, long sT) {
        static View contiguous(Tensor t) { // [B, H, T, D]
            int h = t.dim(1), tt = t.dim(2), d = t.dim(3);
            return new View(ptr(t), (long) h * tt * d, (long) tt * d, d);
        }

        /** Part {@code which} (0 q, 1 k, 2 v) of a packed [B, T, 3, H, D] tensor. */
        static View packed(Tensor qkv, int which) {
            int t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
            return new View(ptr(qkv) + 4L * which * h * d, (long) t * 3 * h * d, d, 3L * h * d);
        }

        /** A [B, T, H, D] tensor seen as [B, H, T, D]. */
        static View tokensFirst(Tensor o) {
            int t = o.dim(1), h = o.dim(2), d = o.dim(3);
            return new View(ptr(o), (long) t * h * d, d, (long) h * d);
        }

        void write(Kernels.Args a) {
            MemorySegment s = a.arena().allocate(24, 8);
            s.set(ValueLayout.JAVA_LONG, 0, sB);
            s.set(ValueLayout.JAVA_LONG, 8, sH);
            s.set(ValueLayout.JAVA_LONG, 16, sT);
            a.ptr(base).struct(s);
        }
    }

    private static final int ATT_WARPS = 4, SHARED_LIMIT = 48 * 1024;

    /** Rows of K/V (or Q/dO) per shared-memory tile, given the floats a tile row and the per-warp buffers take. */
    private static int tile(int perRow, int fixed, int d, int dv) {
        int t = (SHARED_LIMIT / 4 - fixed) / Math.max(1, perRow);
        if (t < 1) throw new IllegalArgumentException("attention: head sizes d=" + d + ", dv=" + dv + " are too large for the CUDA kernel's shared memory");
        return Math.min(64, t);
    }

    private void attentionForward(View q, View k, View v, View out, Tensor lse, int b, int h, int t, int s, int d, int dv, float scale, boolean causal) {
        if (b * h == 0 || t == 0) return;
        if ((long) b * h > 65535) throw new IllegalArgumentException("attention: batch × heads = " + (long) b * h + " exceeds the CUDA grid's 65535");
        int tile = tile(d + dv, ATT_WARPS * (d + dv), d, dv);
        long shared = 4L * (tile * (d + dv) + ATT_WARPS * (d + dv));
        bind();
        kernels.launch("attentionForward", (t + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, shared, a -> {
            q.write(a); k.write(a); v.write(a); out.write(a);
            a.ptr(ptr(lse)).i(h).i(t).i(s).i(d).i(dv).f(scale).i(causal ? 1 : 0).i(tile);
        });
    }

    private void attentionBackward(View q, View k, View v, View out, Tensor lse, View dout, View dq, View dk, View dvw,
                                   int b, int h, int t, int s, int d, int dv, float scale, boolean causal) {
        if (b * h == 0) return;
        if ((long) b * h > 65535) throw new IllegalArgumentException("attention: batch × heads = " + (long) b * h + " exceeds the CUDA grid's 65535");
        bind();
        try (Tensor delta = empty(b, h, Math.max(t, 1))) {
            kernels.launch("attentionDelta", (t + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, 0, a -> {
                out.write(a); dout.write(a); a.ptr(ptr(delta)).i(h).i(t).i(dv);
            });
            int tq = tile(d + dv, ATT_WARPS * (2 * d + dv), d, dv);
            long sq = 4L * (tq * (d + dv) + ATT_WARPS * (2 * d + dv));
            kernels.launch("attentionBackwardQ", (t + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, sq, a -> {
                q.write(a); k.write(a); v.write(a); dout.write(a); a.ptr(ptr(lse)).ptr(ptr(delta)); dq.write(a);
                a.i(h).i(t).i(s).i(d).i(dv).f(scale).i(causal ? 1 : 0).i(tq);
            });
            int tk = tile(d + dv + 2, ATT_WARPS * 2 * (d + dv), d, dv);
            long sk = 4L * (tk * (d + dv + 2) + ATT_WARPS * 2 * (d + dv));
            kernels.launch("attentionBackwardKV", (s + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, sk, a -> {
                q.write(a); k.write(a); v.write(a); dout.write(a); a.ptr(ptr(lse)).ptr(ptr(delta)); dk.write(a); dvw.write(a);
                a.i(h).i(t).i(s).i(d).i(dv).f(scale).i(causal ? 1 : 0).i(tk);
            });
        }
    }

    @Override protected void attentionForwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal) {
        attentionForward(View.contiguous(q), View.contiguous(k), View.contiguous(v), View.contiguous(out), lse,
                q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), scale, causal);
    }

    @Override protected void attentionBackwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                                                   Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal) {
        attentionBackward(View.contiguous(q), View.contiguous(k), View.contiguous(v), View.contiguous(out), lse, View.contiguous(dout),
                View.contiguous(dq), View.contiguous(dk), View.contiguous(dv), q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), scale, causal);
    }

    @Override protected void attentionPackedForwardImpl(Tensor qkv, Tensor out, Tensor lse, float scale, boolean causal) {
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        attentionForward(View.packed(qkv, 0), View.packed(qkv, 1), View.packed(qkv, 2), View.tokensFirst(out), lse, b, h, t, t, d, d, scale, causal);
    }

    @Override protected void attentionPackedBackwardImpl(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, float scale, boolean causal) {
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        attentionBackward(View.packed(qkv, 0), View.packed(qkv, 1), View.packed(qkv, 2), View.tokensFirst(out), lse, View.tokensFirst(dout),
                View.packed(dqkv, 0), View.packed(dqkv, 1), View.packed(dqkv, 2), b, h, t, t, d, d, scale, causal);
    }

    // ---------------------------------------------------------------- element-wise

    @Override protected void binaryImpl(Binary kind, Tensor a, Tensor b, Tensor out) {
        long n = a.numel(), nb = b.numel();
        if (n == 0) return;
        launch("binary", Kernels.blocksFor(n), w -> w.i(kind.ordinal()).ptr(ptr(a)).ptr(ptr(b)).ptr(ptr(out)).l(n).l(nb));
    }

    @Override protected void scaleImpl(Tensor x, float alpha, Tensor out) {
        long n = x.numel();
        launch("scale", Kernels.blocksFor(n), a -> a.ptr(ptr(x)).f(alpha).ptr(ptr(out)).l(n));
    }

    @Override protected void axpyImpl(float alpha, Tensor x, Tensor y) {
        long n = x.numel();
        launch("axpy", Kernels.blocksFor(n), a -> a.f(alpha).ptr(ptr(x)).ptr(ptr(y)).l(n));
    }

    @Override protected void sumImpl(Tensor x, boolean[] reduce, Tensor out) {
        int[] xs = x.shape();
        int r = xs.length;
        if (out.numel() == 0) return;
        long kept = out.numel(), folded = x.numel() / Math.max(1, kept);
        if (x.numel() == 0) { fillImpl(out, 0f); return; }
        int firstKept = 0;
        while (firstKept < r && reduce[firstKept]) firstKept++;
        int lastKept = r - 1;
        while (lastKept >= 0 && reduce[lastKept]) lastKept--;
        boolean keptContiguous = true;
        for (int i = firstKept; i <= lastKept; i++) keptContiguous &= !reduce[i];
        if (keptContiguous && lastKept == r - 1) {           // reduced axes lead: sum over rows of [folded, kept]
            launch("colSum", Kernels.blocksFor(kept), a -> a.ptr(ptr(x)).ptr(ptr(out)).i((int) folded).i((int) kept));
            return;
        }
        if (keptContiguous && firstKept == 0) {              // reduced axes trail: sum each row of [kept, folded]
            launchRows("rowSum", (int) kept, (int) folded, a -> a.ptr(ptr(x)).ptr(ptr(out)).i((int) kept).i((int) folded));
            return;
        }
        int[] perm = new int[r];                             // otherwise kept axes first, then row sums
        int j = 0;
        for (int i = 0; i < r; i++) if (!reduce[i]) perm[j++] = i;
        for (int i = 0; i < r; i++) if (reduce[i]) perm[j++] = i;
        int[] ps = new int[r];
        for (int i = 0; i < r; i++) ps[i] = xs[perm[i]];
        try (Tensor moved = empty(ps)) {
            permuteImpl(x, moved, perm);
            launchRows("rowSum", (int) kept, (int) folded, a -> a.ptr(ptr(moved)).ptr(ptr(out)).i((int) kept).i((int) folded));
        }
    }

    // ---------------------------------------------------------------- layout

    private static final int MAX_DIMS = 8;

    @Override protected void permuteImpl(Tensor x, Tensor out, int[] perm) {
        long n = x.numel();
        if (n == 0) return;
        if (perm.length > MAX_DIMS) throw new IllegalArgumentException("permute: the CUDA kernel takes at most " + MAX_DIMS + " axes, got " + perm.length);
        int[] xStr = Shape.strides(x.shape()), os = out.shape();
        launch("permute", Kernels.blocksFor(n), a -> {
            MemorySegment dims = a.arena().allocate(4L * (1 + 2 * MAX_DIMS), 4);
            dims.set(ValueLayout.JAVA_INT, 0, perm.length);
            for (int i = 0; i < perm.length; i++) {
                dims.set(ValueLayout.JAVA_INT, 4L * (1 + i), os[i]);
                dims.set(ValueLayout.JAVA_INT, 4L * (1 + MAX_DIMS + i), xStr[perm[i]]);
            }
            a.ptr(ptr(x)).ptr(ptr(out)).struct(dims).l(n);
        });
    }

    private void sliceCopy(Tensor whole, Tensor part, int axis, int start, boolean toWhole) {
        int[] ps = part.shape();
        long outer = Shape.prod(ps, 0, axis), inner = Shape.prod(ps, axis + 1, ps.length);
        long n = part.numel();
        if (n == 0) return;
        launch("sliceCopy", Kernels.blocksFor(n), a -> a.ptr(ptr(whole)).ptr(ptr(part)).l(outer).i(ps[axis]).i(whole.dim(axis)).l(inner)
                .i(start).i(toWhole ? 1 : 0));
    }

    @Override protected void sliceImpl(Tensor x, int axis, int start, Tensor out) { sliceCopy(x, out, axis, start, false); }
    @Override protected void insertSliceImpl(Tensor src, int axis, int start, Tensor dst) { sliceCopy(dst, src, axis, start, true); }

    private void indexError(String op, Tensor idx, int rows) {
        int bad = badPosition();
        if (bad >= 0) throw new IllegalArgumentException(op + ": idx[" + bad + "] = " + valueAt(idx, bad) + " is not a row index in [0, " + rows + ")");
    }

    @Override protected void gatherImpl(Tensor table, Tensor idx, Tensor out) {
        int n = idx.dim(0), d = table.dim(1), rows = table.dim(0);
        if (n == 0) return;
        bind();
        armFlag();
        launch("gatherRows", Kernels.blocksFor((long) n * d), a -> a.ptr(ptr(table)).ptr(ptr(idx)).ptr(ptr(out)).i(n).i(d).i(rows).ptr(flag));
        indexError("gather", idx, rows);
    }

    @Override protected void scatterAddImpl(Tensor src, Tensor idx, Tensor table) {
        int n = idx.dim(0), d = table.dim(1), rows = table.dim(0);
        if (n == 0 || d == 0) return;
        bind();
        armFlag();
        launch("scatterAddRows", Kernels.blocksFor(d), a -> a.ptr(ptr(src)).ptr(ptr(idx)).ptr(ptr(table)).i(n).i(d).i(rows).ptr(flag));
        indexError("scatterAdd", idx, rows);
    }

    // ---------------------------------------------------------------- optimizer steps

    @Override protected void sgdStepImpl(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, boolean nesterov) {
        long n = param.numel();
        launch("sgdStep", Kernels.blocksFor(n), a -> a.ptr(ptr(param)).ptr(ptr(grad)).ptr(momentum == 0 ? 0 : ptr(velocity))
                .f(lr).f(momentum).f(weightDecay).i(nesterov ? 1 : 0).l(n));
    }

    @Override protected void adamWStepImpl(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                                           float lr, float beta1, float beta2, float eps, float weightDecay) {
        long n = param.numel();
        float c1 = (float) (1 - Math.pow(beta1, step)), c2 = (float) (1 - Math.pow(beta2, step));
        launch("adamWStep", Kernels.blocksFor(n), a -> a.ptr(ptr(param)).ptr(ptr(grad)).ptr(ptr(m)).ptr(ptr(v))
                .f(lr).f(beta1).f(beta2).f(eps).f(weightDecay).f(c1).f(c2).l(n));
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
