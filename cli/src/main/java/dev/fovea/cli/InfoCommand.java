package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.BackendProvider;
import dev.fovea.backend.Backends;
import dev.fovea.bench.OpenBlas;
import jdk.incubator.vector.FloatVector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code fovea info}: the JVM, the vector unit, the cores and what each backend is (or why it cannot run). */
@Command(name = "info", description = "Show Java, Vector API, cores and every backend's description.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--threads", description = "CPU threads (default: all cores)") int threads;

    @Override public Integer call() {
        Runtime.Version v = Runtime.version();
        System.out.println("java: " + v + " (" + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")");
        System.out.println("vector: " + FloatVector.SPECIES_PREFERRED + ", " + FloatVector.SPECIES_PREFERRED.length() + " floats per vector");
        System.out.println("cores: " + Runtime.getRuntime().availableProcessors() + " available to the JVM");
        System.out.println("os: " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        for (BackendProvider p : Backends.providers()) {
            var reason = p.unavailableReason();
            if (reason.isPresent()) {
                System.out.println("backend " + p.name() + ": unavailable: " + reason.get());
                for (String line : p.diagnostics()) System.out.println("  " + line);
                continue;
            }
            try (Backend b = p.open(new BackendOptions(threads, null))) {
                System.out.println("backend " + b.describe().replace("\n", "\n  "));
            }
        }
        System.out.println("mpi: " + (dev.fovea.distributed.MpiCollective.underMpirun() ? "rank " + Distributed.rank() + " of "
                + Distributed.collective().describe() : dev.fovea.mpi.MpiLibrary.load().map(r -> "not loaded: " + r)
                .orElse("not under mpirun (`mpirun -np N fovea train ...` trains data-parallel); library " + dev.fovea.mpi.MpiLibrary.path())));
        System.out.println("openblas (benchmark peer): " + OpenBlas.load().map(o -> o.path() + ", its own kernel choice here: " + o.coreName()
                + " (bench gemm selects AVX-512 SkylakeX when OPENBLAS_CORETYPE is unset on an AVX-512 CPU)").orElse(OpenBlas.unavailableReason()));
        return 0;
    }
}
