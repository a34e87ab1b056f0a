package dev.fovea.cpu;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.testing.BackendVsReference;

/** The CPU backend against the reference, on three threads so that uneven splits across workers are exercised too. */
class CpuVsReferenceTest extends BackendVsReference {
    CpuVsReferenceTest() { super(new CpuBackend(new BackendOptions(3, Precision.FP32)), 1e-5); }
}
