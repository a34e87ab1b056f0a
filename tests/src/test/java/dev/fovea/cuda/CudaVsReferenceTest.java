package dev.fovea.cuda;

import dev.fovea.backend.Precision;
import dev.fovea.testing.BackendVsReference;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every property the CPU backend passes, on the CUDA backend in FP32 against the double-precision reference. The
 * tolerance is 1e-4 rather than the CPU's 1e-5: cuDNN may pick Winograd or FFT convolutions, whose float32 rounding
 * is larger than a direct sum's. Skipped, with the reason, where no GPU is usable.
 */
class CudaVsReferenceTest extends BackendVsReference {
    CudaVsReferenceTest() { super(Gpu.openOrNull(Precision.FP32), 1e-4); }

    @BeforeEach void gpu() { Gpu.assume(); }

    /** Counted as skipped, with the reason, where the properties cannot run (surefire does not count skipped factories). */
    @Test void runsOnTheGpu() { assertEquals("cuda", be.name()); }
}
