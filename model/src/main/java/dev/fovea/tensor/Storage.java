package dev.fovea.tensor;

/**
 * The memory behind a tensor, owned by exactly one backend. A backend creates it, reads it, and releases it
 * once; a released storage refuses further use so that a use-after-close is an exception, not garbage.
 */
public interface Storage {
    /** Number of float32 elements this storage holds. */
    long elements();

    /** Frees the memory. Idempotent. */
    void release();

    boolean isReleased();
}
