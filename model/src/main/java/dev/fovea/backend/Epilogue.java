package dev.fovea.backend;

import dev.fovea.tensor.Tensor;

/**
 * What {@link Backend#gemm(Tensor, boolean, Tensor, boolean, Tensor, float, float, Epilogue)} adds to C on the way
 * out, as cuBLASLt's epilogues: C ← alpha·op(A)·op(B) + beta·C + bias + residual, with bias [N] added to every row
 * and residual [M, N] (a tensor other than C) element-wise; either may be null. A linear layer's bias and the
 * residual connection after it.
 */
public record Epilogue(Tensor bias, Tensor residual) {
    public static final Epilogue NONE = new Epilogue(null, null);

    public static Epilogue bias(Tensor bias) { return new Epilogue(bias, null); }

    public boolean isNone() { return bias == null && residual == null; }
}
