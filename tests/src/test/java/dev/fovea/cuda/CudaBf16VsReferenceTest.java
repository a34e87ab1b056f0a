package dev.fovea.cuda;

import dev.fovea.backend.Precision;
import dev.fovea.testing.BackendVsReference;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The properties in BF16 (GEMM operands rounded to 8-bit mantissas, float32 accumulation): relative error up to 3e-2. */
class CudaBf16VsReferenceTest extends BackendVsReference {
    CudaBf16VsReferenceTest() { super(Gpu.openOrNull(Precision.BF16), 3e-2); }

    @BeforeEach void gpu() { Gpu.assume(); }

    /** Counted as skipped, with the reason, where the properties cannot run (surefire does not count skipped factories). */
    @Test void runsOnTheGpu() { assertEquals("cuda", be.name()); }
}
