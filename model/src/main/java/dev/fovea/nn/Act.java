package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Activation;

/** An element-wise nonlinearity: ReLU, sigmoid, tanh, GELU (exact or tanh), or LeCun's scaled tanh. */
public final class Act extends Layer {
    public enum Kind {
        RELU, SIGMOID, TANH, GELU, GELU_TANH, SCALED_TANH;

        /** Parses "relu", "tanh", "scaled_tanh", "gelu", ... */
        public static Kind parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown activation '" + s + "', expected one of relu, sigmoid, tanh, gelu, gelu_tanh, scaled_tanh");
            }
        }

        public String id() { return name().toLowerCase(java.util.Locale.ROOT); }

        /** The backend's activation of the same name. */
        public Activation op() { return Activation.valueOf(name()); }
    }

    private final Kind kind;

    public Act(Kind kind) { this.kind = kind; }

    public Kind kind() { return kind; }

    @Override public Var forward(Tape t, Var x) { return apply(t, kind, x); }

    public static Var apply(Tape t, Kind kind, Var x) {
        return t.activation(kind.op(), x);
    }
}
