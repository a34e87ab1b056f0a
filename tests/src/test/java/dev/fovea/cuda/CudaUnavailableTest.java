package dev.fovea.cuda;

import dev.fovea.backend.BackendProvider;
import dev.fovea.backend.BackendUnavailableException;
import dev.fovea.backend.Backends;
import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** On a machine without a GPU: every CUDA class loads, the provider is found, and opening it fails with the reason. */
class CudaUnavailableTest {

    @Test void everyCudaClassLoadsAndInitialisesWithoutCuda() throws Exception {
        for (String c : List.of("CudaBackend", "CudaBackendProvider", "CudaGraph", "CudaStorage", "DeviceAllocator", "Kernels",
                "KernelCompiler", "LtGemm", "CudnnPlans", "CudaException"))
            Class.forName("dev.fovea.cuda." + c, true, getClass().getClassLoader());
        for (String c : List.of("CudaLibraries", "cudart.CudaRuntime", "cublas.Cublas", "cudnn.Cudnn", "nvrtc.Nvrtc"))
            Class.forName("dev.fovea.cuda.ffm." + c, true, getClass().getClassLoader());
    }

    @Test void theProviderIsFoundThroughTheServiceLoader() {
        BackendProvider p = Backends.provider("cuda");
        assertEquals(CudaBackendProvider.class, p.getClass());
        assertTrue(p.diagnostics().stream().anyMatch(l -> l.startsWith("the NVIDIA driver: ")), p.diagnostics().toString());
    }

    @Test void withoutADriverOpeningCudaFailsNamingTheDriver() {
        Assumptions.assumeFalse(CudaLibraries.load(CudaLibraries.Lib.DRIVER).ok(), "this machine has an NVIDIA driver");
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.open("cuda"));
        assertTrue(e.getMessage().startsWith("cuda backend unavailable: no NVIDIA driver: libcuda.so.1 not found in "), e.getMessage());
        assertTrue(Gpu.unavailableReason().isPresent());
    }

    @Test void eachRankUnderMpirunTakesItsOwnGpu() {
        java.util.Map<String, String> env = new java.util.HashMap<>();
        org.junit.jupiter.api.Assertions.assertEquals(0, CudaBackendProvider.device(env::get));
        env.put("OMPI_COMM_WORLD_LOCAL_RANK", "3");
        org.junit.jupiter.api.Assertions.assertEquals(3, CudaBackendProvider.device(env::get));
        env.put("FOVEA_CUDA_DEVICE", "1");
        org.junit.jupiter.api.Assertions.assertEquals(1, CudaBackendProvider.device(env::get), "the user's choice wins");
        env.put("FOVEA_CUDA_DEVICE", "gpu1");
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.fovea.backend.BackendUnavailableException.class, () -> CudaBackendProvider.device(env::get));
        org.junit.jupiter.api.Assertions.assertEquals("FOVEA_CUDA_DEVICE=gpu1 is not a GPU index (0, 1, ...)", e.getMessage());
    }
}
