package dev.fovea.backend;

/** Element-wise activation functions the backends provide, forward and backward. */
public enum Activation {
    RELU,
    SIGMOID,
    TANH,
    /** Exact GELU: x·Φ(x) with the Gaussian CDF through erf (PyTorch's default). */
    GELU,
    /** GELU's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    GELU_TANH,
    /** LeCun et al. (1998)'s squashing function 1.7159·tanh(2x/3), which maps ±1 to ±1. */
    SCALED_TANH;

    /** The constants A and S of {@link #SCALED_TANH}: A·tanh(S·x). */
    public static final float LECUN_A = 1.7159f, LECUN_S = 2f / 3f;
}
