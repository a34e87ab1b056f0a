package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.Models;
import dev.fovea.nn.Module;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.TrainConfig;

import java.io.IOException;
import java.nio.file.Path;

/** Builds the model a training checkpoint describes and loads its parameters. */
final class Weights {
    private Weights() {}

    record Loaded(Module model, TrainConfig config, int epochs) implements AutoCloseable {
        @Override public void close() { model.close(); }
    }

    /**
     * The task a checkpoint of {@code train --task} records ("detect", "caption", ...), or null for anything else —
     * a classifier's checkpoint, or a file that is not one, whose own path then reports what is wrong with it.
     */
    static String task(Path p) {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            return f.metadata().get("task");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static Loaded load(Backend be, Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            TrainConfig cfg = info.config();
            Module m = Models.create(be, cfg.model(), cfg.activation().isEmpty() ? null : cfg.activation(), cfg.seed(), cfg.classes());
            try {
                Checkpoint.load(f, m, null, be);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            return new Loaded(m, cfg, info.epochsDone());
        }
    }
}
