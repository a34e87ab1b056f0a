package dev.fovea.cuda;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.testing.BackendVsReference;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The properties with the CPU backend as the control: the two float32 backends agree within 1e-4. */
class CudaVsCpuTest extends BackendVsReference {
    CudaVsCpuTest() { super(Gpu.openOrNull(Precision.FP32), new CpuBackend(new BackendOptions(2, Precision.FP32)), 1e-4); }

    @BeforeEach void gpu() { Gpu.assume(); }

    /** Counted as skipped, with the reason, where the properties cannot run (surefire does not count skipped factories). */
    @Test void runsOnTheGpu() { assertEquals("cuda", be.name()); }
}
