package dev.fovea.cuda;

import dev.fovea.testing.BackendVsReference;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;

import static dev.fovea.testing.Bed.dims;
import static dev.fovea.testing.Bed.property;
import static dev.fovea.testing.Bed.r;

/**
 * The property suite on the CUDA backend's own kernels without a GPU: kernels.cu compiled for the host under a CUDA
 * emulation and launched by the CUDA backend's {@link KernelOps} (see {@link EmulatedCudaBackend}), against the
 * double-precision reference. GEMM, convolution and pooling, which cuBLAS and cuDNN serve on a GPU, are the
 * reference's own here, so those properties check only the harness. Attention runs on smaller shapes than the CPU's
 * (a fiber switch per lane per shuffle is slow), still past a 64-key tile, causal and not. Needs g++ (CI has it).
 */
class KernelEmulationTest extends BackendVsReference {
    KernelEmulationTest() { super(open(), 1e-5); }

    private static EmulatedCudaBackend open() {
        if (!EmulatedKernels.compilerPresent()) {
            if (Gpu.librariesRequired()) throw new IllegalStateException("CI needs g++ for the kernel emulation (apt-get install g++)");
            Assumptions.abort("g++ not found: the kernel emulation cannot be built");
        }
        return new EmulatedCudaBackend();
    }

    @Override @TestFactory public List<DynamicTest> attention() {
        List<DynamicTest> tests = new ArrayList<>();
        for (boolean causal : new boolean[]{false, true})
            for (boolean fwd : new boolean[]{true, false}) {
                String n = "attention " + (fwd ? "forward" : "backward") + (causal ? " causal" : "");
                // b, h, t, s, d, dv: ragged head sizes, fewer or more queries than keys
                tests.add(property(n + ": small", 12, dims(r(1, 2), r(1, 3), r(1, 13), r(1, 13), r(1, 40), r(1, 40)),
                        d -> attnCase(d[0], d[1], d[2], d[3], d[4], d[5], causal, fwd)));
                // past one 64-row tile of keys (forward, dq) and of queries (dk, dv)
                tests.add(property(n + ": two tiles", 2, dims(r(1, 1), r(1, 1), r(60, 72), r(60, 72), r(1, 6), r(1, 6)),
                        d -> attnCase(d[0], d[1], d[2], d[3], d[4], d[5], causal, fwd)));
            }
        return tests;
    }

    @Override @TestFactory public List<DynamicTest> attentionPacked() {
        List<DynamicTest> tests = new ArrayList<>();
        for (boolean causal : new boolean[]{false, true})
            for (boolean fwd : new boolean[]{true, false})
                tests.add(property("packed qkv attention " + (fwd ? "forward" : "backward") + (causal ? " causal" : "") + ": small", 8,
                        dims(r(1, 2), r(1, 3), r(1, 12), r(1, 24)), d -> packedCase(d[0], d[1], d[2], d[3], causal, fwd)));
        return tests;
    }
}
