package dev.fovea.cuda;

import dev.fovea.cuda.ffm.cudart.CudaRuntime;
import dev.fovea.cuda.ffm.cudart.dim3;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The NVRTC-compiled kernels of {@code kernels.cu}, loaded into the device's context with cudaLibraryLoadData (the
 * driver JIT-compiles the PTX for the device) and launched with cudaLaunchKernel on the backend's stream.
 */
final class Kernels implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment library;
    private final Map<String, MemorySegment> kernels = new HashMap<>();
    private final MemorySegment stream;

    Kernels(int computeCapability, MemorySegment stream) {
        this.stream = stream;
        String ptx = KernelCompiler.cachedPtx(computeCapability);
        MemorySegment lib = arena.allocate(ValueLayout.ADDRESS);
        CudaException.cuda(CudaRuntime.cudaLibraryLoadData(lib, arena.allocateFrom(ptx), MemorySegment.NULL, MemorySegment.NULL, 0,
                MemorySegment.NULL, MemorySegment.NULL, 0), "cudaLibraryLoadData(kernels.cu)");
        this.library = lib.get(ValueLayout.ADDRESS, 0);
    }

    private synchronized MemorySegment kernel(String name) {
        return kernels.computeIfAbsent(name, n -> {
            MemorySegment k = arena.allocate(ValueLayout.ADDRESS);
            CudaException.cuda(CudaRuntime.cudaLibraryGetKernel(k, library, arena.allocateFrom(n)), "cudaLibraryGetKernel(" + n + ")");
            return k.get(ValueLayout.ADDRESS, 0);
        });
    }

    /** A kernel's arguments in order, each written to native memory as the kernel's parameter type. */
    static final class Args {
        private final Arena a;
        private final List<MemorySegment> values = new ArrayList<>();

        Args(Arena a) { this.a = a; }

        Args ptr(long address) { values.add(a.allocateFrom(ValueLayout.JAVA_LONG, address)); return this; }
        Args i(int v) { values.add(a.allocateFrom(ValueLayout.JAVA_INT, v)); return this; }
        Args l(long v) { values.add(a.allocateFrom(ValueLayout.JAVA_LONG, v)); return this; }
        Args f(float v) { values.add(a.allocateFrom(ValueLayout.JAVA_FLOAT, v)); return this; }
        Args struct(MemorySegment s) { values.add(s); return this; }
        Arena arena() { return a; }

        MemorySegment array() {
            MemorySegment arr = a.allocate(ValueLayout.ADDRESS, Math.max(1, values.size()));
            for (int i = 0; i < values.size(); i++) arr.setAtIndex(ValueLayout.ADDRESS, i, values.get(i));
            return arr;
        }
    }

    interface ArgWriter { void write(Args args); }

    /** Launches {@code name} on grid × block threads with {@code sharedBytes} of dynamic shared memory. */
    void launch(String name, int gridX, int gridY, int block, long sharedBytes, ArgWriter w) {
        if (gridX <= 0 || gridY <= 0) return; // nothing to do (an empty tensor)
        MemorySegment fn = kernel(name);
        try (Arena a = Arena.ofConfined()) {
            Args args = new Args(a);
            w.write(args);
            MemorySegment grid = dim3.allocate(a), blk = dim3.allocate(a);
            dim3.x(grid, gridX); dim3.y(grid, gridY); dim3.z(grid, 1);
            dim3.x(blk, block); dim3.y(blk, 1); dim3.z(blk, 1);
            CudaException.cuda(CudaRuntime.cudaLaunchKernel(fn, grid, blk, args.array(), sharedBytes, stream), "cudaLaunchKernel(" + name + ")");
        }
    }

    /** Blocks of 256 threads for a grid-stride loop over n elements, capped where the loop takes over. */
    static int blocksFor(long n) { return (int) Math.min(Math.max(1, (n + 255) / 256), 65535L * 8); }

    @Override public void close() {
        CudaRuntime.cudaLibraryUnload(library);
        arena.close();
    }
}
