package dev.fovea.distributed;

import dev.fovea.backend.BackendUnavailableException;
import dev.fovea.cuda.CudaBackend;
import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.cuda.ffm.nccl.Nccl;
import dev.fovea.tensor.Tensor;
import dev.fovea.train.Collective;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The collective over NCCL for tensors on the GPU, one process per GPU: the processes are those of a bootstrap
 * collective (MPI), through which rank 0's NCCL id reaches the others. Sums and broadcasts are queued on the CUDA
 * backend's own stream, in a group, so they follow the backward that made the gradients and precede the update that
 * reads them, without a host synchronisation; bytes and barriers go through the bootstrap. Errors name the call and
 * NCCL's message.
 *
 * <p><b>Not run on a GPU yet</b>: its bindings resolve against the real libnccl and NCCL answers its version on the CPU
 * machines (NcclBindingsTest); the calls on device memory have not run.
 */
public final class NcclCollective implements Collective {
    private final CudaBackend be;
    private final Collective bootstrap;
    private final MemorySegment comm;
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    private NcclCollective(CudaBackend be, Collective bootstrap) {
        this.be = be;
        this.bootstrap = bootstrap;
        CudaLibraries.Status s = CudaLibraries.load(CudaLibraries.Lib.NCCL);
        if (!s.ok()) throw new BackendUnavailableException("NCCL is needed to train on several GPUs: " + s.describe());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = dev.fovea.cuda.ffm.nccl.ncclUniqueId.allocate(a);
            if (bootstrap.rank() == 0) check("ncclGetUniqueId", Nccl.ncclGetUniqueId(id));
            byte[] shared = bootstrap.broadcast(id.toArray(ValueLayout.JAVA_BYTE), 0);
            MemorySegment.copy(shared, 0, id, ValueLayout.JAVA_BYTE, 0, shared.length);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("ncclCommInitRank", Nccl.ncclCommInitRank(out, bootstrap.size(), id, bootstrap.rank()));
            comm = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** Every rank of {@code bootstrap} (the processes mpirun started) with its GPU's backend. */
    public static NcclCollective open(CudaBackend be, Collective bootstrap) { return new NcclCollective(be, bootstrap); }

    @Override public int rank() { return bootstrap.rank(); }
    @Override public int size() { return bootstrap.size(); }

    @Override public void allReduceSum(List<Tensor> tensors) {
        grouped(() -> {
            for (Tensor t : tensors) {
                MemorySegment p = CudaBackend.devicePointer(t);
                check("ncclAllReduce", Nccl.ncclAllReduce(p, p, t.numel(), Nccl.ncclFloat32(), Nccl.ncclSum(), comm, be.stream()));
            }
        });
    }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        if (root < 0 || root >= size()) throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of " + size() + " processes");
        grouped(() -> {
            for (Tensor t : tensors) {
                MemorySegment p = CudaBackend.devicePointer(t);
                check("ncclBroadcast", Nccl.ncclBroadcast(p, p, t.numel(), Nccl.ncclFloat32(), root, comm, be.stream()));
            }
        });
    }

    @Override public byte[] broadcast(byte[] data, int root) { return bootstrap.broadcast(data, root); }

    @Override public void barrier() { bootstrap.barrier(); }

    @Override public String describe() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            check("ncclGetVersion", Nccl.ncclGetVersion(v));
            return size() + " GPUs over NCCL " + version(v.get(ValueLayout.JAVA_INT, 0)) + " (bootstrap: " + bootstrap.describe() + ")";
        }
    }

    /** NCCL's version code (major·10000 + minor·100 + patch since 2.9) as "2.30.7". */
    public static String version(int code) { return code / 10000 + "." + code / 100 % 100 + "." + code % 100; }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        Nccl.ncclCommDestroy(comm);
        arena.close();
    }

    private static void grouped(Runnable calls) {
        check("ncclGroupStart", Nccl.ncclGroupStart.makeInvoker().apply());
        try {
            calls.run();
        } finally {
            check("ncclGroupEnd", Nccl.ncclGroupEnd.makeInvoker().apply());
        }
    }

    static void check(String call, int rc) {
        if (rc == Nccl.ncclSuccess()) return;
        throw new IllegalStateException(call + " failed: " + errorString(rc) + " (NCCL error " + rc + ")");
    }

    /** NCCL's message for a result code (a C string it owns). */
    static String errorString(int rc) {
        return Nccl.ncclGetErrorString(rc).reinterpret(4096).getString(0);
    }
}
