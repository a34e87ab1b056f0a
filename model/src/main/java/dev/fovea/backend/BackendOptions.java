package dev.fovea.backend;

/**
 * How to open a backend.
 *
 * @param threads   worker threads for CPU kernels; 0 means one per available core
 * @param precision arithmetic for matrix products
 */
public record BackendOptions(int threads, Precision precision) {
    public BackendOptions {
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = all cores), got " + threads);
        if (precision == null) precision = Precision.FP32;
    }

    public static BackendOptions defaults() { return new BackendOptions(0, Precision.FP32); }

    public BackendOptions withThreads(int t) { return new BackendOptions(t, precision); }

    /** The thread count to use: {@link #threads()} or, when 0, the available processors. */
    public int resolvedThreads() { return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads; }
}
