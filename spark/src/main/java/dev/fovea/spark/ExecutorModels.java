package dev.fovea.spark;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Backends;
import dev.fovea.inference.Predictor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models of one JVM (an executor, or the driver in local mode): each loaded once, on first use, and shared by
 * every task that runs there (a predictor serves many threads at once). One CPU backend serves them all, with as many
 * threads as the executor has cores; both live until the JVM exits (a shutdown hook closes them).
 */
final class ExecutorModels {
    private ExecutorModels() {}

    private static final Map<Path, Predictor> MODELS = new ConcurrentHashMap<>();
    private static Backend backend;

    /** The predictor of {@code model}, loaded now if this JVM has not loaded it yet. */
    static Predictor get(Path model, int threads) {
        return MODELS.computeIfAbsent(model.toAbsolutePath().normalize(), p -> {
            try {
                return Predictor.load(backend(threads), p);
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
        });
    }

    private static synchronized Backend backend(int threads) {
        if (backend == null) {
            backend = Backends.open("cpu", BackendOptions.defaults().withThreads(threads));
            Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModels::closeAll, "fovea-models-close"));
        }
        return backend;
    }

    private static synchronized void closeAll() {
        MODELS.values().forEach(Predictor::close);
        MODELS.clear();
        if (backend != null) backend.close();
        backend = null;
    }
}
