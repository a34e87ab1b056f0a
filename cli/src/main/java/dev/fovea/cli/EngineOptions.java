package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.BackendUnavailableException;
import dev.fovea.backend.Backends;
import picocli.CommandLine.Option;

/** {@code --backend} and {@code --threads}, shared by every command that computes. */
final class EngineOptions {
    @Option(names = "--backend", description = "cpu or cuda (default: ${DEFAULT-VALUE})") String backend = "cpu";
    @Option(names = "--threads", description = "CPU threads (default: all cores)") int threads;

    Backend open() {
        if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0 (0 = all cores), got " + threads);
        if (backend.equals("cuda") && Backends.providers().stream().noneMatch(p -> p.name().equals("cuda")))
            throw new BackendUnavailableException("cuda backend unavailable: this build has no CUDA backend yet; use --backend=cpu");
        return Backends.open(backend, new BackendOptions(threads, null));
    }

    int resolvedThreads() { return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads; }
}
