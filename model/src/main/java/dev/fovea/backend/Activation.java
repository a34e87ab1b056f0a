package dev.fovea.backend;

/** Element-wise activation functions the backends provide, forward and backward. */
public enum Activation {
    RELU,
    SIGMOID,
    TANH,
    /** Exact GELU: x·Φ(x) with the Gaussian CDF through erf (PyTorch's default). */
    GELU,
    /** GELU's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    GELU_TANH
}
