package dev.fovea.models;

import dev.fovea.backend.Backend;
import dev.fovea.nn.Act;
import dev.fovea.nn.Layer;

import java.util.List;

/** Builds a model from its CLI name; the name and activation are what checkpoints record to rebuild it. */
public final class Models {
    private Models() {}

    public static List<String> names() { return List.of("lenet5", "lenet5-full", "vit"); }

    /**
     * {@code vit}: a ViT sized for 28×28 grey images: 4×4 patches (49 + the class token), width 64, 4 blocks of 4
     * heads, MLP ratio 4, exact GELU, LayerNorm eps 1e-6, head on the class token.
     */
    public static final ViTConfig VIT_FASHION = new ViTConfig(28, 4, 1, 10, 64, 4, 4, 4f, true, true, "token", 1e-6f, Act.Kind.GELU);

    /** The name checkpoints of masked pretraining record: {@code vit} with the pretraining head (tasks.MaskedPretraining). */
    public static final String VIT_PRETRAIN = "vit-pretrain";

    /** {@code activation} null picks the model's default. */
    public static Layer create(Backend be, String name, String activation, long seed) { return create(be, name, activation, seed, 10); }

    /** With a head of {@code classes} outputs. */
    public static Layer create(Backend be, String name, String activation, long seed, int classes) {
        Layer m = createWithTenClasses(be, name, activation, seed);
        if (classes != 10) ((Classifier) m).replaceHead(be, classes, seed);
        return m;
    }

    private static Layer createWithTenClasses(Backend be, String name, String activation, long seed) {
        if (name.equals("vit")) {
            if (activation != null && !activation.isEmpty()) throw new IllegalArgumentException("--activation applies to lenet5 models only");
            return new VisionTransformer(be, VIT_FASHION, seed);
        }
        LeNet5.Variant v = parse(name);
        return activation == null ? LeNet5.create(be, v, seed) : new LeNet5(be, v, Act.Kind.parse(activation), seed);
    }

    /** Throws IllegalArgumentException naming the problem if the model or activation name is unknown. */
    public static void validate(String name, String activation) {
        if (name.equals("vit")) return;
        parse(name);
        if (activation != null) Act.Kind.parse(activation);
    }

    private static LeNet5.Variant parse(String name) {
        for (LeNet5.Variant v : LeNet5.Variant.values()) if (v.id.equals(name)) return v;
        throw new IllegalArgumentException("unknown model '" + name + "', expected one of " + String.join(", ", names()));
    }

}
