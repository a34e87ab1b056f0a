package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/** y = x·Wᵀ + b with weight [out, in] and bias [out], as torch.nn.Linear. */
public final class Linear extends Layer {
    public final Var weight, bias;

    public Linear(Backend be, Init init, int in, int out) { this(be, init, in, out, true); }

    public Linear(Backend be, Init init, int in, int out, boolean withBias) {
        weight = param("weight", init.pytorchDefault(be, in, out, in));
        bias = withBias ? param("bias", init.pytorchDefault(be, in, out)) : null;
    }

    /** With the given initial tensors (the module takes ownership); bias may be null. */
    public Linear(dev.fovea.tensor.Tensor weight, dev.fovea.tensor.Tensor bias) {
        this.weight = param("weight", weight);
        this.bias = bias == null ? null : param("bias", bias);
    }

    /** timm's initialisation for transformer layers: weight N(0, 0.02²) truncated, bias 0. */
    public static Linear timm(Backend be, Init init, int in, int out, boolean withBias) {
        return new Linear(init.truncNormal(be, 0.02f, out, in), withBias ? init.constant(be, 0f, out) : null);
    }

    @Override public Var forward(Tape t, Var x) { return t.linear(x, weight, bias); }

    /** x·Wᵀ + b + residual, the residual added in the product's epilogue. */
    public Var forward(Tape t, Var x, Var residual) { return t.linear(x, weight, bias, residual); }
}
