package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/** timm's {@code Mlp}: fc1 → GELU → fc2. */
public final class Mlp extends Layer {
    public final Linear fc1, fc2;
    private final Act.Kind act;

    public Mlp(Backend be, Init init, int dim, int hidden, Act.Kind act) {
        fc1 = child("fc1", Linear.timm(be, init, dim, hidden, true));
        fc2 = child("fc2", Linear.timm(be, init, hidden, dim, true));
        this.act = act;
    }

    @Override public Var forward(Tape t, Var x) { return addTo(t, null, x); }

    /** residual + mlp(x), the residual added in fc2's epilogue (residual may be null). */
    public Var addTo(Tape t, Var residual, Var x) {
        return fc2.forward(t, Act.apply(t, act, fc1.forward(t, x)), residual);
    }
}
