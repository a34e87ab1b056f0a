package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Layer;
import dev.fovea.nn.StateDict;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs a golden fixture in the format of {@code shared/fixtures}: the model named by the metadata's "arch", its
 * parameters under PyTorch names, a batch {@code io.input} and {@code io.labels}, and the reference {@code io.logits},
 * optionally {@code io.loss}, {@code grad.<param>} and {@code io.grad.input}. Every reference tensor present is
 * compared by relative error ‖got − ref‖ / ‖ref‖.
 */
public final class FixtureCheck {
    private FixtureCheck() {}

    public record Result(String tensor, double relErr, double tolerance) {
        public boolean pass() { return relErr <= tolerance; }
    }

    /** Whole networks in float32 reach well under this against PyTorch (fixtures/README.md). */
    public static final double TOLERANCE = 1e-4;

    public static List<Result> run(Backend be, SafetensorsFile f) {
        Map<String, String> meta = f.metadata();
        String arch = meta.get("arch");
        if (arch == null) throw new IllegalArgumentException(f.path() + ": no \"arch\" in the safetensors __metadata__, so the model is unknown");
        for (String need : List.of("io.input", "io.logits"))
            if (!f.contains(need)) throw new IllegalArgumentException(f.path() + ": fixture tensor \"" + need + "\" is missing");
        try (Layer model = build(be, arch, f)) {
            StateDict.load(model, f, n -> !n.startsWith("io.") && !n.startsWith("grad."));
            boolean wantGrads = f.contains("io.loss") || f.names().stream().anyMatch(n -> n.startsWith("grad.") || n.equals("io.grad.input"));
            if (wantGrads && !f.contains("io.labels"))
                throw new IllegalArgumentException(f.path() + ": has a loss or gradients but no io.labels");
            List<Result> out = new ArrayList<>();
            try (Tape t = wantGrads ? Tape.training(be) : Tape.inference(be)) {
                Var x = t.leaf(be.upload(f.floats("io.input"), f.entry("io.input").shape()));
                Var logits = model.forward(t, x);
                out.add(compare(f, "io.logits", logits.value()));
                if (wantGrads) {
                    long[] labels = f.longs("io.labels");
                    float[] lf = new float[labels.length];
                    for (int i = 0; i < lf.length; i++) lf[i] = labels[i];
                    Var loss = t.crossEntropy(logits, t.constant(be.upload(lf, lf.length)), 0f);
                    if (f.contains("io.loss")) out.add(compare(f, "io.loss", loss.value()));
                    model.zeroGrad();
                    loss.backward();
                    for (var e : model.namedParameters().entrySet()) {
                        String name = "grad." + e.getKey();
                        if (!f.contains(name)) continue;
                        Tensor g = e.getValue().grad();
                        if (g == null) throw new IllegalStateException("parameter " + e.getKey() + " got no gradient");
                        out.add(compare(f, name, g));
                    }
                    if (f.contains("io.grad.input")) out.add(compare(f, "io.grad.input", x.grad()));
                }
            }
            return out;
        }
    }

    private static Layer build(Backend be, String arch, SafetensorsFile f) {
        if (arch.equals("LeNet5")) {
            boolean full = f.contains("f5.weight") && f.contains("c3.weight") && ViTConfig.shape(f, "c3.weight", 4, "[16, C, 5, 5]")[1] == 6;
            String act = f.metadata().getOrDefault("activation", "tanh");
            return new LeNet5(be, full ? LeNet5.Variant.FULL : LeNet5.Variant.PAPER, dev.fovea.nn.Act.Kind.parse(act), 0);
        }
        if (arch.startsWith("timm")) return new VisionTransformer(be, ViTConfig.fromFile(f), 0);
        throw new IllegalArgumentException(f.path() + ": arch \"" + arch + "\" is not supported (supported: LeNet5, timm VisionTransformer)");
    }

    private static Result compare(SafetensorsFile f, String name, Tensor got) {
        int[] want = f.entry(name).shape(), have = got.shape();
        // a scalar may be stored as [] or [1]
        boolean scalar = got.numel() == 1 && java.util.Arrays.stream(want).reduce(1, (a, b) -> a * b) == 1;
        if (!scalar && !java.util.Arrays.equals(want, have))
            throw new IllegalArgumentException(f.path() + ": " + name + " has shape " + Shape.str(want) + " but the model computed " + Shape.str(have));
        float[] ref = f.floats(name), g = got.toArray();
        return new Result(name, relErr(g, ref), TOLERANCE);
    }

    /** ‖got − ref‖ / ‖ref‖ in double; 0 when both are zero. */
    public static double relErr(float[] got, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        if (den == 0) return num == 0 ? 0 : Double.POSITIVE_INFINITY;
        double r = Math.sqrt(num / den);
        return Double.isNaN(r) ? Double.POSITIVE_INFINITY : r;
    }

}
