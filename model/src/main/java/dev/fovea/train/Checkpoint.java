package dev.fovea.train;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.io.SafetensorsWriter;
import dev.fovea.nn.Module;
import dev.fovea.nn.StateDict;
import dev.fovea.optim.Optimizer;
import dev.fovea.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training checkpoint in safetensors: the model's parameters under their own names, the optimizer's state under
 * "optim.&lt;param&gt;.&lt;slot&gt;", and in the metadata the {@link TrainConfig}, epochs and steps done and the
 * metrics of every epoch so far. Written to a temporary file, synced and renamed, so a crash mid-write leaves the
 * previous checkpoint intact.
 */
public final class Checkpoint {
    public static final String FORMAT = "fovea-checkpoint-1";
    static final String OPT = "optim.";

    private Checkpoint() {}

    public static void save(Path path, Module model, Optimizer opt, TrainConfig cfg, int epochsDone, long steps,
                            List<EpochMetrics> history) throws IOException {
        save(path, model, opt, cfg, epochsDone, steps, history, Map.of());
    }

    /** With {@code extra} metadata: what a model beyond the TrainConfig needs to be rebuilt (a scene task's spec). */
    public static void save(Path path, Module model, Optimizer opt, TrainConfig cfg, int epochsDone, long steps,
                            List<EpochMetrics> history, Map<String, String> extra) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        w.metadata("format", FORMAT);
        cfg.toMetadata().forEach(w::metadata);
        extra.forEach(w::metadata);
        w.metadata("epochs_done", Integer.toString(epochsDone));
        w.metadata("steps", Long.toString(steps));
        w.metadata("optimizer_steps", Integer.toString(opt.steps()));
        w.metadata("history", String.join("\n", history.stream().map(EpochMetrics::csv).toList()));
        StateDict.save(model, w, "");
        for (var e : opt.state().entrySet()) w.putFloats(OPT + e.getKey(), e.getValue().toArray(), e.getValue().shape());
        w.write(path);
        removeStaleTemporaries(path);
    }

    /** Temporary files a killed writer left beside the checkpoint (the rename never happened, so they are partial). */
    static void removeStaleTemporaries(Path path) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        String prefix = "." + path.getFileName() + ".";
        try (var s = java.nio.file.Files.newDirectoryStream(dir, f -> f.getFileName().toString().startsWith(prefix) && f.toString().endsWith(".tmp"))) {
            for (Path p : s) java.nio.file.Files.deleteIfExists(p);
        }
    }

    /**
     * The task a checkpoint of a task beyond classification records ("detect", "caption", ...), or null for anything
     * else — a classifier's checkpoint, or a file that is not one, whose own path then reports what is wrong with it.
     */
    public static String task(Path p) {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            return f.metadata().get("task");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** What a checkpoint says about its run, read before the model is built. */
    public record Info(Path path, TrainConfig config, int epochsDone, long steps, int optimizerSteps, List<EpochMetrics> history) {}

    public static Info info(SafetensorsFile f) {
        Map<String, String> m = f.metadata();
        if (!FORMAT.equals(m.get("format")))
            throw new IllegalArgumentException(f.path() + ": not a fovea checkpoint (metadata \"format\" is " + m.get("format") + ", expected " + FORMAT + ")");
        try {
            List<EpochMetrics> h = new ArrayList<>();
            String hist = m.getOrDefault("history", "");
            for (String line : hist.split("\n")) {
                if (line.isBlank()) continue;
                try {
                    h.add(EpochMetrics.parseCsv(line));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(f.path() + ": bad \"history\" in the checkpoint's metadata: " + e.getMessage());
                }
            }
            return new Info(f.path(), TrainConfig.fromMetadata(f.path().toString(), m), Integer.parseInt(m.get("epochs_done")),
                    Long.parseLong(m.get("steps")), Integer.parseInt(m.get("optimizer_steps")), h);
        } catch (RuntimeException e) {
            if (e instanceof IllegalArgumentException && !(e instanceof NumberFormatException)) throw e;
            throw new IllegalArgumentException(f.path() + ": bad checkpoint metadata: " + e.getMessage());
        }
    }

    /** {@code model} with the checkpoint's parameters loaded; closed, and the error passed on, when they do not fit. */
    public static <M extends Module> M loadModel(SafetensorsFile f, M model, Backend be) {
        try {
            load(f, model, null, be);
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Loads the parameters into {@code model} (listing any that do not fit), leaving out those named with
     * {@code skipPrefix} (a pretraining head the model no longer has).
     */
    public static void loadParameters(SafetensorsFile f, Module model, String skipPrefix) {
        StateDict.load(model, f, n -> !n.startsWith(OPT) && !n.startsWith(skipPrefix));
    }

    /** Loads the parameters into {@code model} (listing any that do not fit) and, if given, the optimizer state. */
    public static void load(SafetensorsFile f, Module model, Optimizer opt, Backend be) {
        StateDict.load(model, f, n -> !n.startsWith(OPT));
        if (opt == null) return;
        Map<String, Tensor> state = new LinkedHashMap<>();
        try {
            for (String n : f.names())
                if (n.startsWith(OPT)) state.put(n.substring(OPT.length()), be.upload(f.floats(n), f.entry(n).shape()));
            opt.load(state, info(f).optimizerSteps());
        } finally {
            state.values().forEach(Tensor::close);
        }
    }
}
