package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/** LayerNorm over the last axis with weight (gain, ones) and bias (zeros) [D], as torch.nn.LayerNorm. */
public final class LayerNorm extends Layer {
    public final Var weight, bias;
    private final float eps;

    public LayerNorm(Backend be, Init init, int dim, float eps) {
        weight = param("weight", init.constant(be, 1f, dim));
        bias = param("bias", init.constant(be, 0f, dim));
        this.eps = eps;
    }

    @Override public Var forward(Tape t, Var x) { return t.layerNorm(x, weight, bias, eps); }
}
