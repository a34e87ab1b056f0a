package dev.fovea.autograd;

import dev.fovea.tensor.Tensor;

/**
 * A tensor in the autodiff graph: its value and, once backward has reached it, its gradient.
 * Parameters own both tensors and keep them across steps; every other Var belongs to the {@link Tape} that made it
 * and dies with it.
 */
public final class Var {
    private final Tensor value;
    private final boolean requiresGrad;
    private final boolean parameter;
    final Tape tape;
    Tensor grad;
    /** False until backward writes the gradient of this step; the first write overwrites, later ones add. */
    boolean gradValid;
    /** The op's name in a profile (Tape.Profile), when the tape that made this Var profiles. */
    String profileKey;

    Var(Tensor value, boolean requiresGrad, boolean parameter, Tape tape) {
        this.value = value;
        this.requiresGrad = requiresGrad;
        this.parameter = parameter;
        this.tape = tape;
    }

    /** A trainable tensor; the Var takes ownership of {@code value} and frees it (and its gradient) on {@link #release()}. */
    public static Var parameter(Tensor value) { return new Var(value, true, true, null); }

    public Tensor value() { return value; }

    /** This step's gradient, or null when backward has not reached this Var since the last {@link #zeroGrad()}. */
    public Tensor grad() { return gradValid ? grad : null; }

    public boolean requiresGrad() { return requiresGrad; }
    public boolean isParameter() { return parameter; }
    public int[] shape() { return value.shape(); }
    public int dim(int i) { return value.dim(i); }

    /**
     * This step's gradient, zeros when backward has not reached this Var (a process whose share of a batch was empty
     * still sums its part, nothing, with the others').
     */
    public Tensor gradOrZeros() {
        if (grad == null) grad = value.backend().zeros(value.shape());
        else if (!gradValid) value.backend().fill(grad, 0f);
        gradValid = true;
        return grad;
    }

    /** Forgets this step's gradient; the buffer is kept and overwritten by the next backward. */
    public void zeroGrad() { gradValid = false; }

    /** Runs backward from this scalar (one-element) Var through the tape that recorded it. */
    public void backward() {
        if (tape == null) throw new IllegalStateException("backward: this Var was not computed on a tape");
        tape.backward(this);
    }

    /** Frees a parameter's value and gradient. */
    public void release() {
        if (!parameter) throw new IllegalStateException("release: only parameters own their tensors; tape values die with the tape");
        value.close();
        if (grad != null) grad.close();
        grad = null;
        gradValid = false;
    }

    @Override public String toString() { return "Var" + value; }
}
