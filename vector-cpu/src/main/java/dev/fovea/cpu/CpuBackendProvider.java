package dev.fovea.cpu;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.BackendProvider;

import java.util.Optional;

/** Registers the CPU backend as "cpu"; it runs wherever Java 25 with the incubating Vector API does. */
public final class CpuBackendProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }

    @Override public Optional<String> unavailableReason() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty())
            return Optional.of("the JVM was started without --add-modules jdk.incubator.vector");
        return Optional.empty();
    }

    @Override public Backend open(BackendOptions options) { return new CpuBackend(options); }
}
