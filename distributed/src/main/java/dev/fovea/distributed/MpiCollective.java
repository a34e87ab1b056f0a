package dev.fovea.distributed;

import dev.fovea.mpi.MpiLibrary;
import dev.fovea.mpi.ffm.Mpi;
import dev.fovea.tensor.Tensor;
import dev.fovea.train.Collective;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The collective over MPI (Open MPI through the generated bindings), for tensors on the CPU: the processes mpirun
 * started. A sum runs on one host buffer holding all the tensors at once (one MPI_Allreduce in place, not one per
 * tensor); MPI_COMM_WORLD returns its errors (MPI_ERRORS_RETURN), which become exceptions naming the call and MPI's
 * message. Every MPI call, from MPI_Init_thread to MPI_Finalize, runs on one thread of its own ("fovea-mpi",
 * MPI_THREAD_FUNNELED), in the order the calls were made: a sum started with {@link #startAllReduceSum} runs there while
 * the caller goes on (backward computing the next gradients), and the calls made after it wait for it. MPI is
 * initialised by the first {@link #open} and finalised when the JVM exits.
 */
public final class MpiCollective implements Collective {
    private static MpiCollective world;
    /** The one thread that calls MPI. */
    private static final ExecutorService MPI = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fovea-mpi");
        t.setDaemon(true);
        return t;
    });

    private final MemorySegment comm, floatType, byteType, intType, sum;
    private final int rank, size;
    private final String library;
    private Arena bufferArena;
    private MemorySegment buffer = MemorySegment.NULL;

    private MpiCollective() {
        comm = MpiLibrary.handle("ompi_mpi_comm_world");
        floatType = MpiLibrary.handle("ompi_mpi_float");
        byteType = MpiLibrary.handle("ompi_mpi_byte");
        intType = MpiLibrary.handle("ompi_mpi_int");
        sum = MpiLibrary.handle("ompi_mpi_op_sum");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(ValueLayout.JAVA_INT);
            check("MPI_Initialized", Mpi.MPI_Initialized(flag));
            if (flag.get(ValueLayout.JAVA_INT, 0) == 0) {
                MemorySegment provided = a.allocate(ValueLayout.JAVA_INT);
                yieldWhenIdle(a);
                check("MPI_Init_thread", Mpi.MPI_Init_thread(MemorySegment.NULL, MemorySegment.NULL, Mpi.MPI_THREAD_FUNNELED(), provided));
                Runtime.getRuntime().addShutdownHook(new Thread(MpiCollective::finish, "fovea-mpi-finalize"));
            }
            check("MPI_Comm_set_errhandler", Mpi.MPI_Comm_set_errhandler(comm, MpiLibrary.handle("ompi_mpi_errors_return")));
            MemorySegment r = a.allocate(ValueLayout.JAVA_INT), s = a.allocate(ValueLayout.JAVA_INT);
            check("MPI_Comm_rank", Mpi.MPI_Comm_rank(comm, r));
            check("MPI_Comm_size", Mpi.MPI_Comm_size(comm, s));
            rank = r.get(ValueLayout.JAVA_INT, 0);
            size = s.get(ValueLayout.JAVA_INT, 0);
            MemorySegment v = a.allocate(Mpi.MPI_MAX_LIBRARY_VERSION_STRING()), len = a.allocate(ValueLayout.JAVA_INT);
            check("MPI_Get_library_version", Mpi.MPI_Get_library_version(v, len));
            library = v.getString(0).lines().findFirst().orElse("MPI").strip();
        }
    }

    /**
     * Open MPI waits for the other ranks by polling; this thread does so beside the training threads, which take every
     * core by default, and a sum started while backward runs would take a core from it. Unless the user chose
     * otherwise, MPI is told to yield the core while it waits (OMPI_MCA_mpi_yield_when_idle=1, read by MPI_Init): with
     * it, gradients summed in buckets during backward cost nothing here, without it they slowed the ViT's steps by 14 %
     * on two cores (BENCHMARKS.md).
     */
    private static void yieldWhenIdle(Arena a) {
        Linker linker = Linker.nativeLinker();
        MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try {
            int rc = (int) setenv.invokeExact(a.allocateFrom("OMPI_MCA_mpi_yield_when_idle"), a.allocateFrom("1"), 0);   // 0: keep the user's value
            if (rc != 0) throw new IllegalStateException("setenv(OMPI_MCA_mpi_yield_when_idle) failed");
        } catch (Throwable e) {
            if (e instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e);
        }
    }

    /** The processes mpirun started (MPI_COMM_WORLD); errors if MPI cannot be loaded, saying where it was looked for. */
    public static synchronized MpiCollective open() {
        MpiLibrary.load().ifPresent(reason -> { throw new IllegalStateException(reason); });
        if (world == null) world = on(MpiCollective::new);
        return world;
    }

    /** True when this JVM was started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE in each process). */
    public static boolean underMpirun() { return System.getenv("OMPI_COMM_WORLD_SIZE") != null; }

    @Override public int rank() { return rank; }
    @Override public int size() { return size; }

    @Override public void allReduceSum(List<Tensor> tensors) { on(() -> sumNow(tensors)); }

    @Override public Pending startAllReduceSum(List<Tensor> tensors) {
        Future<?> f = MPI.submit(() -> sumNow(tensors));
        return () -> join(f);
    }

    private Void sumNow(List<Tensor> tensors) {
        long n = 0;
        for (Tensor t : tensors) n += t.numel();
        if (n == 0) return null;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("allReduceSum: " + n + " values in one call, more than MPI's int count takes");
        MemorySegment buf = buffer(4 * n);
        long off = 0;
        for (Tensor t : tensors) {
            t.backend().download(t, buf.asSlice(off * 4, t.numel() * 4L));
            off += t.numel();
        }
        check("MPI_Allreduce", Mpi.MPI_Allreduce(MemorySegment.ofAddress(1), buf, (int) n, floatType, sum, comm));     // MPI_IN_PLACE
        off = 0;
        for (Tensor t : tensors) {
            t.backend().write(buf.asSlice(off * 4, t.numel() * 4L), t);
            off += t.numel();
        }
        return null;
    }

    /**
     * The host buffer the tensors are gathered into, kept from call to call (a training step sums the same gradients
     * every time) and grown when a call needs more; freed when MPI is finalised.
     */
    private synchronized MemorySegment buffer(long bytes) {
        if (buffer.byteSize() < bytes) {
            if (bufferArena != null) bufferArena.close();
            bufferArena = Arena.ofShared();
            buffer = bufferArena.allocate(bytes, 64);
        }
        return buffer.asSlice(0, bytes);
    }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        checkRoot(root);
        on(() -> broadcastNow(tensors, root));
    }

    private Void broadcastNow(List<Tensor> tensors, int root) {
        long n = 0;
        for (Tensor t : tensors) n += t.numel();
        if (n == 0) return null;
        MemorySegment buf = buffer(4 * n);
        long off = 0;
        if (rank == root)
            for (Tensor t : tensors) { t.backend().download(t, buf.asSlice(off * 4, t.numel() * 4L)); off += t.numel(); }
        check("MPI_Bcast", Mpi.MPI_Bcast(buf, (int) n, floatType, root, comm));
        off = 0;
        if (rank != root)
            for (Tensor t : tensors) {
                t.backend().write(buf.asSlice(off * 4, t.numel() * 4L), t);
                off += t.numel();
            }
        return null;
    }

    @Override public byte[] broadcast(byte[] data, int root) {
        checkRoot(root);
        return on(() -> broadcastNow(data, root));
    }

    private byte[] broadcastNow(byte[] data, int root) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment len = a.allocate(ValueLayout.JAVA_INT);
            if (rank == root) len.set(ValueLayout.JAVA_INT, 0, data.length);
            check("MPI_Bcast", Mpi.MPI_Bcast(len, 1, intType, root, comm));
            int n = len.get(ValueLayout.JAVA_INT, 0);
            MemorySegment buf = a.allocate(Math.max(n, 1));
            if (rank == root) MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, n);
            check("MPI_Bcast", Mpi.MPI_Bcast(buf, n, byteType, root, comm));
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Override public void barrier() {
        on(() -> {
            check("MPI_Barrier", Mpi.MPI_Barrier(comm));
            return null;
        });
    }

    @Override public String describe() { return size + " processes over " + library + " (" + MpiLibrary.path() + ")"; }

    /** MPI stays initialised for the JVM's life (it may be initialised once only); finalised at exit. */
    @Override public void close() {}

    private void checkRoot(int root) {
        if (root < 0 || root >= size) throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of " + size + " processes");
    }

    /** At exit: finalised on the MPI thread, unless a call still running there (a sum a dead rank never joins) holds it. */
    private static void finish() {
        Future<?> f = MPI.submit(MpiCollective::finishNow);
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // exiting anyway: mpirun reports a rank that did not finalise
        }
    }

    private static void finishNow() {
        synchronized (MpiCollective.class) {
            if (world != null && world.bufferArena != null) world.bufferArena.close();
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(ValueLayout.JAVA_INT);
            Mpi.MPI_Finalized(flag);
            if (flag.get(ValueLayout.JAVA_INT, 0) == 0) Mpi.MPI_Finalize();
        }
    }

    /** Runs c on the MPI thread and waits for it; its exception is thrown here. */
    private static <T> T on(Callable<T> c) { return join(MPI.submit(c)); }

    private static <T> T join(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for MPI", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    private static void check(String call, int rc) {
        if (rc == Mpi.MPI_SUCCESS()) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment msg = a.allocate(Mpi.MPI_MAX_ERROR_STRING()), len = a.allocate(ValueLayout.JAVA_INT);
            String text = Mpi.MPI_Error_string(rc, msg, len) == Mpi.MPI_SUCCESS() ? msg.getString(0) : "error " + rc;
            throw new IllegalStateException(call + " failed: " + text + " (MPI error " + rc + ")");
        }
    }
}
