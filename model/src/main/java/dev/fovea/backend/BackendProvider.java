package dev.fovea.backend;

import java.util.List;
import java.util.Optional;

/**
 * Service-provider interface: each backend module registers one in
 * {@code META-INF/services/dev.fovea.backend.BackendProvider}. Loading a provider class must never fail on a
 * machine that lacks the backend's libraries; {@link #unavailableReason()} says why instead.
 */
public interface BackendProvider {
    /** The name users select it by ({@code --backend=NAME}). */
    String name();

    /** Empty when the backend can run here, otherwise the exact reason it cannot. */
    Optional<String> unavailableReason();

    /** Lines that say what the backend found here and where it looked (libraries, versions), for {@code fovea info}. */
    default List<String> diagnostics() { return List.of(); }

    /** Opens the backend; throws {@link BackendUnavailableException} with the reason if it cannot run here. */
    Backend open(BackendOptions options);
}
