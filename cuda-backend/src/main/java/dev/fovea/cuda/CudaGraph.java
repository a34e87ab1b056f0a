package dev.fovea.cuda;

import dev.fovea.cuda.ffm.cudart.CudaRuntime;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A captured sequence of device work (see {@link CudaBackend#capture}), replayed with one launch. It owns the device
 * blocks that the captured work used as temporaries; closing it returns them to the allocator.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaBackend backend;
    private final MemorySegment graph, exec;
    private final List<Long> blocks;
    private boolean closed;

    CudaGraph(CudaBackend backend, MemorySegment graph, MemorySegment exec, List<Long> blocks) {
        this.backend = backend;
        this.graph = graph;
        this.exec = exec;
        this.blocks = blocks;
    }

    /** Queues the whole graph on the backend's stream; returns without waiting. */
    public void replay() {
        if (closed) throw new IllegalStateException("replay: the CUDA graph was closed");
        backend.bind();
        CudaException.cuda(CudaRuntime.cudaGraphLaunch(exec, backend.stream), "cudaGraphLaunch");
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        backend.bind();
        backend.synchronize();
        CudaRuntime.cudaGraphExecDestroy(exec);
        CudaRuntime.cudaGraphDestroy(graph);
        backend.graphClosed(this, blocks);
    }
}
