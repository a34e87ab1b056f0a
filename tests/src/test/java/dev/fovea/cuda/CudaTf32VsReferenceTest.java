package dev.fovea.cuda;

import dev.fovea.backend.Precision;
import dev.fovea.testing.BackendVsReference;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The properties in TF32 (products on tensor cores with 10-bit mantissas, float32 accumulation): relative error up
 * to 1e-2 of the reference, TF32's rounding (2^-11 per operand) grown over sums of hundreds of products.
 */
class CudaTf32VsReferenceTest extends BackendVsReference {
    CudaTf32VsReferenceTest() { super(Gpu.openOrNull(Precision.TF32), 1e-2); }

    @BeforeEach void gpu() { Gpu.assume(); }

    /** Counted as skipped, with the reason, where the properties cannot run (surefire does not count skipped factories). */
    @Test void runsOnTheGpu() { assertEquals("cuda", be.name()); }
}
