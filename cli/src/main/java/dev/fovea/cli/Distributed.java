package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.cuda.CudaBackend;
import dev.fovea.distributed.MpiCollective;
import dev.fovea.distributed.NcclCollective;
import dev.fovea.train.Collective;

/** The CLI under mpirun: which rank this process is, the collective of all of them, its share of the cores. */
final class Distributed {
    private Distributed() {}

    /** This process's rank as mpirun set it (OMPI_COMM_WORLD_RANK), 0 when not under mpirun. */
    static int rank() { return intEnv("OMPI_COMM_WORLD_RANK", 0); }

    /**
     * The processes mpirun started, or one process alone: over MPI for the CPU backend, over NCCL (bootstrapped through
     * MPI) for the CUDA backend, one GPU per rank.
     */
    static Collective collective(Backend be) {
        if (!MpiCollective.underMpirun()) return Collective.single();
        MpiCollective mpi = MpiCollective.open();
        return be instanceof CudaBackend cuda ? NcclCollective.open(cuda, mpi) : mpi;
    }

    /** MPI's collective alone (what `fovea info` describes). */
    static Collective collective() { return MpiCollective.underMpirun() ? MpiCollective.open() : Collective.single(); }

    /** Threads by default: all cores, shared evenly by the ranks mpirun put on this machine (OMPI_COMM_WORLD_LOCAL_SIZE). */
    static int defaultThreads() { return Math.max(1, Runtime.getRuntime().availableProcessors() / intEnv("OMPI_COMM_WORLD_LOCAL_SIZE", 1)); }

    private static int intEnv(String name, int otherwise) {
        try {
            String v = System.getenv(name);
            return v == null ? otherwise : Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }
}
