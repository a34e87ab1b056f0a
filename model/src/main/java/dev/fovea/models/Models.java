package dev.fovea.models;

import dev.fovea.backend.Backend;
import dev.fovea.nn.Act;
import dev.fovea.nn.Module;

import java.util.List;

/** Builds a model from its CLI name; the name and activation are what checkpoints record to rebuild it. */
public final class Models {
    private Models() {}

    public static List<String> names() { return List.of("lenet5", "lenet5-full"); }

    /** {@code activation} null picks the model's default. */
    public static Module create(Backend be, String name, String activation, long seed) {
        LeNet5.Variant v = LeNet5.Variant.parse(name);
        return activation == null ? LeNet5.create(be, v, seed) : new LeNet5(be, v, Act.Kind.parse(activation), seed);
    }

    /** Throws IllegalArgumentException naming the problem if the model or activation name is unknown. */
    public static void validate(String name, String activation) {
        LeNet5.Variant.parse(name);
        if (activation != null) Act.Kind.parse(activation);
    }

    /** The activation a model uses, for checkpoint metadata. */
    public static String activation(Module m) {
        return m instanceof LeNet5 l ? l.activation().id() : "";
    }
}
