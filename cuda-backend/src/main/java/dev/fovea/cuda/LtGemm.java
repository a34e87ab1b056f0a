package dev.fovea.cuda;

import dev.fovea.cuda.ffm.cublas.Cublas;
import dev.fovea.cuda.ffm.cublas.cublasLtMatmulHeuristicResult_t;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * GEMM with an epilogue on cuBLASLt: D ← α·op(A)·op(B) + β·C + bias, the bias added to every row of the row-major
 * result as the matmul stores it. Row-major operands are handed over as their column-major transposes (B first),
 * so the bias runs along cuBLASLt's rows. One plan (descriptors, layouts, the heuristic's algorithm) per shape.
 */
final class LtGemm implements AutoCloseable {
    private static final long WORKSPACE = 32L << 20;

    private record Key(int m, int n, int k, boolean transA, boolean transB, boolean bias) {}

    private record Plan(MemorySegment desc, MemorySegment first, MemorySegment second, MemorySegment cd, MemorySegment algo) {}

    /** The cached answer for a shape cuBLASLt has no algorithm for. */
    private static final Plan NONE = new Plan(null, null, null, null, null);

    private final MemorySegment handle;
    private final int computeType;
    private final Arena arena = Arena.ofShared();
    private final Map<Key, Plan> plans = new HashMap<>();

    LtGemm(MemorySegment handle, int computeType) {
        this.handle = handle;
        this.computeType = computeType;
    }

    private MemorySegment layout(long rows, long cols, long ld) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        CudaException.cublas(Cublas.cublasLtMatrixLayoutCreate(out, Cublas.CUDA_R_32F(), rows, cols, ld), "cublasLtMatrixLayoutCreate");
        return out.get(ValueLayout.ADDRESS, 0);
    }

    private void setInt(MemorySegment desc, int attr, int value) {
        CudaException.cublas(Cublas.cublasLtMatmulDescSetAttribute(desc, attr, arena.allocateFrom(ValueLayout.JAVA_INT, value), 4), "cublasLtMatmulDescSetAttribute");
    }

    private Plan plan(Key key) {
        return plans.computeIfAbsent(key, kk -> {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaException.cublas(Cublas.cublasLtMatmulDescCreate(out, computeType, Cublas.CUDA_R_32F()), "cublasLtMatmulDescCreate");
            MemorySegment desc = out.get(ValueLayout.ADDRESS, 0);
            setInt(desc, Cublas.CUBLASLT_MATMUL_DESC_TRANSA(), kk.transB() ? Cublas.CUBLAS_OP_T() : Cublas.CUBLAS_OP_N());
            setInt(desc, Cublas.CUBLASLT_MATMUL_DESC_TRANSB(), kk.transA() ? Cublas.CUBLAS_OP_T() : Cublas.CUBLAS_OP_N());
            setInt(desc, Cublas.CUBLASLT_MATMUL_DESC_EPILOGUE(), kk.bias() ? Cublas.CUBLASLT_EPILOGUE_BIAS() : Cublas.CUBLASLT_EPILOGUE_DEFAULT());
            if (kk.bias()) setInt(desc, Cublas.CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE(), Cublas.CUDA_R_32F());
            // column-major views: B's buffer is [n, k] (or [k, n] transposed), A's is [k, m] (or [m, k]), D is [n, m]
            MemorySegment first = kk.transB() ? layout(kk.k(), kk.n(), kk.k()) : layout(kk.n(), kk.k(), kk.n());
            MemorySegment second = kk.transA() ? layout(kk.m(), kk.k(), kk.m()) : layout(kk.k(), kk.m(), kk.k());
            MemorySegment cd = layout(kk.n(), kk.m(), kk.n());
            CudaException.cublas(Cublas.cublasLtMatmulPreferenceCreate(out), "cublasLtMatmulPreferenceCreate");
            MemorySegment pref = out.get(ValueLayout.ADDRESS, 0);
            try {
                CudaException.cublas(Cublas.cublasLtMatmulPreferenceSetAttribute(pref, Cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES(),
                        arena.allocateFrom(ValueLayout.JAVA_LONG, WORKSPACE), 8), "cublasLtMatmulPreferenceSetAttribute");
                MemorySegment result = cublasLtMatmulHeuristicResult_t.allocate(arena);
                MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
                CudaException.cublas(Cublas.cublasLtMatmulAlgoGetHeuristic(handle, desc, first, second, cd, cd, pref, 1, result, count),
                        "cublasLtMatmulAlgoGetHeuristic");
                if (count.get(ValueLayout.JAVA_INT, 0) == 0) { // none for this shape and compute type: the caller falls back
                    Cublas.cublasLtMatmulDescDestroy(desc);
                    Cublas.cublasLtMatrixLayoutDestroy(first);
                    Cublas.cublasLtMatrixLayoutDestroy(second);
                    Cublas.cublasLtMatrixLayoutDestroy(cd);
                    return NONE;
                }
                return new Plan(desc, first, second, cd, cublasLtMatmulHeuristicResult_t.algo(result));
            } finally {
                Cublas.cublasLtMatmulPreferenceDestroy(pref);
            }
        });
    }

    /**
     * d ← α·op(a)·op(b) + β·c + bias on the stream; c and d may be the same buffer; bias 0 for none. False, with
     * nothing queued, when cuBLASLt has no algorithm for it (the caller then computes it another way).
     */
    synchronized boolean matmul(MemorySegment stream, int m, int n, int k, long a, boolean transA, long b, boolean transB,
                             long c, long d, float alpha, float beta, long bias, DeviceAllocator allocator) {
        Plan p = plan(new Key(m, n, k, transA, transB, bias != 0));
        if (p == NONE) return false;
        long ws = allocator.allocate(WORKSPACE);
        try (Arena ar = Arena.ofConfined()) {
            if (bias != 0)
                CudaException.cublas(Cublas.cublasLtMatmulDescSetAttribute(p.desc(), Cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER(),
                        ar.allocateFrom(ValueLayout.JAVA_LONG, bias), 8), "cublasLtMatmulDescSetAttribute(bias)");
            CudaException.cublas(Cublas.cublasLtMatmul(handle, p.desc(), ar.allocateFrom(ValueLayout.JAVA_FLOAT, alpha),
                    MemorySegment.ofAddress(b), p.first(), MemorySegment.ofAddress(a), p.second(),
                    ar.allocateFrom(ValueLayout.JAVA_FLOAT, beta), MemorySegment.ofAddress(c), p.cd(), MemorySegment.ofAddress(d), p.cd(),
                    p.algo(), MemorySegment.ofAddress(ws), WORKSPACE, stream), "cublasLtMatmul");
        } finally {
            allocator.release(ws); // stream order: the next user of the block runs after this matmul
        }
        return true;
    }

    @Override public synchronized void close() {
        for (Plan p : plans.values()) {
            if (p == NONE) continue;
            Cublas.cublasLtMatmulDescDestroy(p.desc());
            Cublas.cublasLtMatrixLayoutDestroy(p.first());
            Cublas.cublasLtMatrixLayoutDestroy(p.second());
            Cublas.cublasLtMatrixLayoutDestroy(p.cd());
        }
        plans.clear();
        arena.close();
    }
}
