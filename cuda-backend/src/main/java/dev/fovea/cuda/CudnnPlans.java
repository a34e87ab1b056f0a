package dev.fovea.cuda;

import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.backend.Precision;
import dev.fovea.cuda.ffm.cudnn.Cudnn;
import dev.fovea.cuda.ffm.cudnn.cudnnConvolutionBwdDataAlgoPerfStruct;
import dev.fovea.cuda.ffm.cudnn.cudnnConvolutionBwdFilterAlgoPerfStruct;
import dev.fovea.cuda.ffm.cudnn.cudnnConvolutionFwdAlgoPerfStruct;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.fovea.cuda.CudaBackend.seg;

/**
 * cuDNN's convolution and pooling: descriptors, the algorithm and its workspace size per shape and direction, chosen
 * once from the {@code _v7} heuristics (cuDNN 9 has no other getter) and cached. Under FP32 only algorithms that run
 * in FMA math qualify (cuDNN's default math may use TF32 on Ampere and later); deterministic ones are preferred.
 */
final class CudnnPlans implements AutoCloseable {
    private enum Dir { FWD, BWD_DATA, BWD_FILTER }

    private record ConvKey(Dir dir, List<Integer> x, List<Integer> w, Conv2dSpec s) {}

    private record ConvPlan(MemorySegment xDesc, MemorySegment wDesc, MemorySegment yDesc, MemorySegment convDesc, int algo, long workspace) {}

    private record PoolKey(Pool2dSpec s, List<Integer> x) {}

    private record PoolPlan(MemorySegment xDesc, MemorySegment yDesc, MemorySegment poolDesc) {}

    private final MemorySegment handle;
    private final Precision precision;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one, zero;
    private final Map<ConvKey, ConvPlan> convs = new HashMap<>();
    private final Map<PoolKey, PoolPlan> pools = new HashMap<>();
    private final Map<List<Integer>, MemorySegment[]> biasDescs = new HashMap<>();

    CudnnPlans(MemorySegment handle, Precision precision) {
        this.handle = handle;
        this.precision = precision;
        one = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
    }

    private static List<Integer> list(int[] a) { return Arrays.stream(a).boxed().toList(); }

    private MemorySegment tensorDesc(int n, int c, int h, int w) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        CudaException.cudnn(Cudnn.cudnnCreateTensorDescriptor(out), "cudnnCreateTensorDescriptor");
        MemorySegment d = out.get(ValueLayout.ADDRESS, 0);
        CudaException.cudnn(Cudnn.cudnnSetTensor4dDescriptor(d, Cudnn.CUDNN_TENSOR_NCHW(), Cudnn.CUDNN_DATA_FLOAT(), n, c, h, w),
                "cudnnSetTensor4dDescriptor([" + n + ", " + c + ", " + h + ", " + w + "])");
        return d;
    }

    private ConvPlan conv(Dir dir, int[] xs, int[] ws, Conv2dSpec s) {
        return convs.computeIfAbsent(new ConvKey(dir, list(xs), list(ws), s), k -> {
            int[] ys = s.outputShape(xs, ws);
            MemorySegment xDesc = tensorDesc(xs[0], xs[1], xs[2], xs[3]), yDesc = tensorDesc(ys[0], ys[1], ys[2], ys[3]);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaException.cudnn(Cudnn.cudnnCreateFilterDescriptor(out), "cudnnCreateFilterDescriptor");
            MemorySegment wDesc = out.get(ValueLayout.ADDRESS, 0);
            CudaException.cudnn(Cudnn.cudnnSetFilter4dDescriptor(wDesc, Cudnn.CUDNN_DATA_FLOAT(), Cudnn.CUDNN_TENSOR_NCHW(), ws[0], ws[1], ws[2], ws[3]),
                    "cudnnSetFilter4dDescriptor");
            CudaException.cudnn(Cudnn.cudnnCreateConvolutionDescriptor(out), "cudnnCreateConvolutionDescriptor");
            MemorySegment convDesc = out.get(ValueLayout.ADDRESS, 0);
            CudaException.cudnn(Cudnn.cudnnSetConvolution2dDescriptor(convDesc, s.padH(), s.padW(), s.strideH(), s.strideW(), 1, 1,
                    Cudnn.CUDNN_CROSS_CORRELATION(), Cudnn.CUDNN_DATA_FLOAT()), "cudnnSetConvolution2dDescriptor");
            CudaException.cudnn(Cudnn.cudnnSetConvolutionGroupCount(convDesc, s.groups()), "cudnnSetConvolutionGroupCount");
            CudaException.cudnn(Cudnn.cudnnSetConvolutionMathType(convDesc, precision == Precision.FP32 ? Cudnn.CUDNN_FMA_MATH() : Cudnn.CUDNN_DEFAULT_MATH()),
                    "cudnnSetConvolutionMathType");
            int[] chosen = choose(dir, xDesc, wDesc, yDesc, convDesc);
            CudaException.cudnn(Cudnn.cudnnSetConvolutionMathType(convDesc, chosen[1]), "cudnnSetConvolutionMathType");
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            switch (dir) {
                case FWD -> CudaException.cudnn(Cudnn.cudnnGetConvolutionForwardWorkspaceSize(handle, xDesc, wDesc, convDesc, yDesc, chosen[0], size), "cudnnGetConvolutionForwardWorkspaceSize");
                case BWD_DATA -> CudaException.cudnn(Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, wDesc, yDesc, convDesc, xDesc, chosen[0], size), "cudnnGetConvolutionBackwardDataWorkspaceSize");
                case BWD_FILTER -> CudaException.cudnn(Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, xDesc, yDesc, convDesc, wDesc, chosen[0], size), "cudnnGetConvolutionBackwardFilterWorkspaceSize");
            }
            return new ConvPlan(xDesc, wDesc, yDesc, convDesc, chosen[0], size.get(ValueLayout.JAVA_LONG, 0));
        });
    }

    /** {algorithm, math type}: the heuristics' first qualifying answer, deterministic first. */
    private int[] choose(Dir dir, MemorySegment xDesc, MemorySegment wDesc, MemorySegment yDesc, MemorySegment convDesc) {
        int count = switch (dir) {
            case FWD -> Cudnn.CUDNN_CONVOLUTION_FWD_ALGO_COUNT();
            case BWD_DATA -> Cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT();
            case BWD_FILTER -> Cudnn.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT();
        };
        MemorySegment returned = arena.allocate(ValueLayout.JAVA_INT);
        MemorySegment perf;
        switch (dir) {
            case FWD -> {
                perf = cudnnConvolutionFwdAlgoPerfStruct.allocateArray(count, arena);
                CudaException.cudnn(Cudnn.cudnnGetConvolutionForwardAlgorithm_v7(handle, xDesc, wDesc, convDesc, yDesc, count, returned, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
            }
            case BWD_DATA -> {
                perf = cudnnConvolutionBwdDataAlgoPerfStruct.allocateArray(count, arena);
                CudaException.cudnn(Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, wDesc, yDesc, convDesc, xDesc, count, returned, perf), "cudnnGetConvolutionBackwardDataAlgorithm_v7");
            }
            default -> {
                perf = cudnnConvolutionBwdFilterAlgoPerfStruct.allocateArray(count, arena);
                CudaException.cudnn(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, xDesc, yDesc, convDesc, wDesc, count, returned, perf), "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
            }
        }
        int n = returned.get(ValueLayout.JAVA_INT, 0);
        int[] fallback = null;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++) {
                // the three perf structs share one layout: algo, status, time, memory, determinism, mathType
                MemorySegment p = cudnnConvolutionFwdAlgoPerfStruct.asSlice(perf, i);
                if (cudnnConvolutionFwdAlgoPerfStruct.status(p) != Cudnn.CUDNN_STATUS_SUCCESS()) continue;
                int math = cudnnConvolutionFwdAlgoPerfStruct.mathType(p);
                if (precision == Precision.FP32 && math != Cudnn.CUDNN_FMA_MATH() && math != Cudnn.CUDNN_DEFAULT_MATH()) continue;
                int[] c = {cudnnConvolutionFwdAlgoPerfStruct.algo(p), precision == Precision.FP32 ? Cudnn.CUDNN_FMA_MATH() : math};
                if (fallback == null) fallback = c;
                if (pass == 0 && cudnnConvolutionFwdAlgoPerfStruct.determinism(p) == 1) return c;
            }
        if (fallback == null) throw new CudaException("cuDNN offers no " + dir + " convolution algorithm for this shape under " + precision);
        return fallback;
    }

    private interface ConvCall { int run(MemorySegment workspace); }

    /** Runs a convolution call with the plan's workspace, a block of the allocator returned at once (stream order). */
    private static void withWorkspace(ConvPlan p, DeviceAllocator allocator, String what, ConvCall call) {
        long ws = p.workspace() == 0 ? 0 : allocator.allocate(p.workspace());
        try {
            CudaException.cudnn(call.run(ws == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(ws)), what);
        } finally {
            if (ws != 0) allocator.release(ws);
        }
    }

    void convForward(Tensor x, Tensor w, Tensor y, Conv2dSpec s, DeviceAllocator allocator) {
        ConvPlan p = conv(Dir.FWD, x.shape(), w.shape(), s);
        withWorkspace(p, allocator, "cudnnConvolutionForward", ws -> Cudnn.cudnnConvolutionForward(handle, one, p.xDesc(), seg(x),
                p.wDesc(), seg(w), p.convDesc(), p.algo(), ws, p.workspace(), zero, p.yDesc(), seg(y)));
    }

    void convBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s, DeviceAllocator allocator) {
        ConvPlan p = conv(Dir.BWD_DATA, dx.shape(), w.shape(), s);
        withWorkspace(p, allocator, "cudnnConvolutionBackwardData", ws -> Cudnn.cudnnConvolutionBackwardData(handle, one, p.wDesc(), seg(w),
                p.yDesc(), seg(dy), p.convDesc(), p.algo(), ws, p.workspace(), zero, p.xDesc(), seg(dx)));
    }

    void convBackwardFilter(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s, DeviceAllocator allocator) {
        ConvPlan p = conv(Dir.BWD_FILTER, x.shape(), dw.shape(), s);
        withWorkspace(p, allocator, "cudnnConvolutionBackwardFilter", ws -> Cudnn.cudnnConvolutionBackwardFilter(handle, one, p.xDesc(), seg(x),
                p.yDesc(), seg(dy), p.convDesc(), p.algo(), ws, p.workspace(), zero, p.wDesc(), seg(dw)));
    }

    void convBackwardBias(Tensor dy, Tensor db) {
        int[] ys = dy.shape();
        MemorySegment[] d = biasDescs.computeIfAbsent(list(ys), k -> new MemorySegment[]{
                tensorDesc(ys[0], ys[1], ys[2], ys[3]), tensorDesc(1, ys[1], 1, 1)});
        CudaException.cudnn(Cudnn.cudnnConvolutionBackwardBias(handle, one, d[0], seg(dy), zero, d[1], seg(db)), "cudnnConvolutionBackwardBias");
    }

    private PoolPlan pool(Pool2dSpec s, int[] xs) {
        return pools.computeIfAbsent(new PoolKey(s, list(xs)), k -> {
            int[] ys = s.outputShape(xs);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaException.cudnn(Cudnn.cudnnCreatePoolingDescriptor(out), "cudnnCreatePoolingDescriptor");
            MemorySegment pd = out.get(ValueLayout.ADDRESS, 0);
            // max: the deterministic mode; average: padding counted in the divisor, as Pool2dSpec defines
            int mode = s.mode() == Pool2dSpec.Mode.MAX ? Cudnn.CUDNN_POOLING_MAX_DETERMINISTIC() : Cudnn.CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING();
            CudaException.cudnn(Cudnn.cudnnSetPooling2dDescriptor(pd, mode, Cudnn.CUDNN_PROPAGATE_NAN(), s.kH(), s.kW(), s.padH(), s.padW(),
                    s.strideH(), s.strideW()), "cudnnSetPooling2dDescriptor");
            return new PoolPlan(tensorDesc(xs[0], xs[1], xs[2], xs[3]), tensorDesc(ys[0], ys[1], ys[2], ys[3]), pd);
        });
    }

    void poolForward(Pool2dSpec s, Tensor x, Tensor y) {
        PoolPlan p = pool(s, x.shape());
        CudaException.cudnn(Cudnn.cudnnPoolingForward(handle, p.poolDesc(), one, p.xDesc(), seg(x), zero, p.yDesc(), seg(y)), "cudnnPoolingForward");
    }

    void poolBackward(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        PoolPlan p = pool(s, x.shape());
        CudaException.cudnn(Cudnn.cudnnPoolingBackward(handle, p.poolDesc(), one, p.yDesc(), seg(y), p.yDesc(), seg(dy), p.xDesc(), seg(x),
                zero, p.xDesc(), seg(dx)), "cudnnPoolingBackward");
    }

    @Override public void close() {
        for (ConvPlan p : convs.values()) {
            Cudnn.cudnnDestroyTensorDescriptor(p.xDesc());
            Cudnn.cudnnDestroyTensorDescriptor(p.yDesc());
            Cudnn.cudnnDestroyFilterDescriptor(p.wDesc());
            Cudnn.cudnnDestroyConvolutionDescriptor(p.convDesc());
        }
        for (PoolPlan p : pools.values()) {
            Cudnn.cudnnDestroyTensorDescriptor(p.xDesc());
            Cudnn.cudnnDestroyTensorDescriptor(p.yDesc());
            Cudnn.cudnnDestroyPoolingDescriptor(p.poolDesc());
        }
        for (MemorySegment[] d : biasDescs.values()) for (MemorySegment m : d) Cudnn.cudnnDestroyTensorDescriptor(m);
        convs.clear();
        pools.clear();
        biasDescs.clear();
        arena.close();
    }
}
