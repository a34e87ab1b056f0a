package dev.fovea.testing;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.BackendProvider;
import dev.fovea.backend.Backends;
import dev.fovea.backend.Precision;
import org.junit.jupiter.api.Assumptions;

import java.util.Optional;

/**
 * Whether the CUDA backend can run here. GPU tests call {@link #assume()} first: without a usable GPU they are
 * reported as skipped with the exact reason (no driver, no device, a library missing), never as passed.
 */
public final class Gpu {
    private Gpu() {}

    private static volatile Optional<String> reason;

    public static Optional<String> unavailableReason() {
        if (reason == null) {
            BackendProvider p = Backends.provider("cuda");
            reason = p.unavailableReason();
        }
        return reason;
    }

    public static boolean available() { return unavailableReason().isEmpty(); }

    /** Skips the calling test (or class, from @BeforeAll) when there is no usable GPU. */
    public static void assume() {
        Assumptions.assumeTrue(available(), () -> "no GPU test: cuda backend unavailable: " + unavailableReason().orElse(""));
    }

    /** A CUDA backend of the given precision, or null when none can run here. */
    public static Backend openOrNull(Precision p) {
        return available() ? Backends.open("cuda", new BackendOptions(0, p)) : null;
    }

    /** Whether tests that need the real CUDA libraries (not a GPU) must run: in CI, where .ci/run installs them. */
    public static boolean librariesRequired() { return "true".equals(System.getenv("CI")); }
}
