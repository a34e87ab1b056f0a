package dev.fovea.nn;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.io.SafetensorsWriter;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** Moves a module's parameters to and from safetensors files by their dotted names. */
public final class StateDict {
    private StateDict() {}

    /** Thrown when a file does not fit a model; lists every missing, unexpected and mis-shaped tensor. */
    public static final class MismatchException extends IllegalArgumentException {
        public MismatchException(String message) { super(message); }
    }

    /**
     * Copies every parameter of {@code m} from {@code file}. Tensors whose names {@code consider} rejects are ignored
     * (fixture inputs, optimizer state); of the rest, any missing from the file, unknown to the model or of another
     * shape is listed in one {@link MismatchException} before anything is copied; a tensor holding NaN or an infinity
     * is refused, naming it.
     */
    public static void load(Module m, SafetensorsFile file, Predicate<String> consider) { load(m, file, consider, Map.of()); }

    /**
     * As {@link #load(Module, SafetensorsFile, Predicate)}, with some of the file's tensors replaced by values of the
     * model's shape computed from them ({@code replaced}: name → values), such as resampled position embeddings.
     */
    public static void load(Module m, SafetensorsFile file, Predicate<String> consider, Map<String, float[]> replaced) {
        Map<String, Var> params = m.namedParameters();
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>(), misshaped = new ArrayList<>();
        for (var e : params.entrySet()) {
            if (!file.contains(e.getKey())) { missing.add(e.getKey() + " " + Shape.str(e.getValue().shape())); continue; }
            if (replaced.containsKey(e.getKey())) continue;
            int[] got = file.entry(e.getKey()).shape();
            if (!Arrays.equals(got, e.getValue().shape()))
                misshaped.add(e.getKey() + ": expected " + Shape.str(e.getValue().shape()) + ", file has " + Shape.str(got));
        }
        for (String n : file.names()) if (consider.test(n) && !params.containsKey(n)) unexpected.add(n + " " + Shape.str(file.entry(n).shape()));
        if (!missing.isEmpty() || !unexpected.isEmpty() || !misshaped.isEmpty()) {
            StringBuilder sb = new StringBuilder(file.path() + " does not fit the model:");
            if (!missing.isEmpty()) sb.append("\n  missing: ").append(String.join(", ", missing));
            if (!unexpected.isEmpty()) sb.append("\n  unexpected: ").append(String.join(", ", unexpected));
            if (!misshaped.isEmpty()) sb.append("\n  wrong shape: ").append(String.join("; ", misshaped));
            throw new MismatchException(sb.toString());
        }
        for (String n : params.keySet()) {
            float[] v = replaced.containsKey(n) ? replaced.get(n) : file.floats(n);
            for (int i = 0; i < v.length; i++)
                if (!Float.isFinite(v[i]))
                    throw new IllegalArgumentException(file.path() + ": tensor " + n + " holds " + v[i] + " at element " + i + " of " + v.length
                            + "; weights must be finite (the run that wrote them diverged, or the file is damaged)");
        }
        for (var e : params.entrySet()) {
            Tensor dst = e.getValue().value();
            Backend be = dst.backend();
            float[] values = replaced.containsKey(e.getKey()) ? replaced.get(e.getKey()) : file.floats(e.getKey());
            try (Tensor src = be.upload(values, dst.shape())) {
                be.copy(src, dst);
            }
        }
    }

    /** Adds every parameter of {@code m} to the writer under {@code prefix + name}. */
    public static void save(Module m, SafetensorsWriter w, String prefix) {
        for (var e : m.namedParameters().entrySet()) {
            Tensor t = e.getValue().value();
            w.putFloats(prefix + e.getKey(), t.toArray(), t.shape());
        }
    }
}
