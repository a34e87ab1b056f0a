package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Backends;
import dev.fovea.backend.Precision;
import picocli.CommandLine.Option;

/** {@code --backend}, {@code --threads} and {@code --precision}, shared by every command that computes. */
final class EngineOptions {
    @Option(names = "--backend", description = "cpu or cuda (default: ${DEFAULT-VALUE})") String backend = "cpu";
    @Option(names = "--threads", description = "CPU threads (default: all cores; under mpirun, the cores shared by the ranks on this machine)") int threads;
    @Option(names = "--precision", description = "fp32, tf32 or bf16 for matrix products (cuda only; default: ${DEFAULT-VALUE})") String precision = "fp32";

    Backend open() {
        if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0 (0 = all cores), got " + threads);
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads > 4 * cores)
            throw new IllegalArgumentException("--threads " + threads + " is more than 4 times the " + cores + " cores here; more threads than cores only wait for each other");
        if (threads > cores) System.err.println("fovea: note: --threads " + threads + " is more than the " + cores + " cores here; the extra threads share them");
        return Backends.open(backend, new BackendOptions(threads == 0 ? Distributed.defaultThreads() : threads, precision()));
    }

    Precision precision() {
        return switch (precision.toLowerCase(java.util.Locale.ROOT)) {
            case "fp32" -> Precision.FP32;
            case "tf32" -> Precision.TF32;
            case "bf16" -> Precision.BF16;
            default -> throw new IllegalArgumentException("--precision must be fp32, tf32 or bf16, got '" + precision + "'");
        };
    }

    int resolvedThreads() { return threads == 0 ? Distributed.defaultThreads() : threads; }
}
