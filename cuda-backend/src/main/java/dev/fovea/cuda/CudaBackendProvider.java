package dev.fovea.cuda;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.BackendProvider;
import dev.fovea.backend.BackendUnavailableException;
import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.cuda.ffm.CudaLibraries.Lib;
import dev.fovea.cuda.ffm.cublas.Cublas;
import dev.fovea.cuda.ffm.cudart.CudaRuntime;
import dev.fovea.cuda.ffm.cudnn.Cudnn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Registers the CUDA backend as "cuda". Loading this class touches no CUDA library; {@link #unavailableReason()}
 * looks for them (see {@link CudaLibraries}) and asks the runtime for a device, and names the first thing missing.
 */
public final class CudaBackendProvider implements BackendProvider {
    /** The CUDA runtime version the bindings were generated for (13.0). */
    static final int RUNTIME_NEEDED = 13000;

    @Override public String name() { return "cuda"; }

    @Override public Optional<String> unavailableReason() {
        Optional<CudaLibraries.Status> driver = CudaLibraries.firstMissing(Lib.DRIVER);
        if (driver.isPresent()) return Optional.of("no NVIDIA driver: " + driver.get().failure());
        Optional<CudaLibraries.Status> lib = CudaLibraries.firstMissing(Lib.CUDART, Lib.CUBLAS, Lib.CUDNN, Lib.NVRTC);
        if (lib.isPresent()) return Optional.of(lib.get().describe());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            CudaRuntime.cudaDriverGetVersion(v);
            int driverVersion = v.get(ValueLayout.JAVA_INT, 0);
            if (driverVersion < RUNTIME_NEEDED)
                return Optional.of("the NVIDIA driver supports CUDA " + version(driverVersion) + "; Fovea's CUDA backend needs a driver for CUDA " + version(RUNTIME_NEEDED) + " or newer");
            int rc = CudaRuntime.cudaGetDeviceCount(v);
            if (rc != 0) return Optional.of("no usable GPU: cudaGetDeviceCount failed: " + CudaException.cudaError(rc));
            if (v.get(ValueLayout.JAVA_INT, 0) == 0) return Optional.of("no CUDA device found");
        } catch (RuntimeException | LinkageError e) {
            return Optional.of("CUDA runtime failed: " + e.getMessage());
        }
        return Optional.empty();
    }

    @Override public Backend open(BackendOptions options) {
        unavailableReason().ifPresent(r -> { throw new BackendUnavailableException("cuda backend unavailable: " + r); });
        return new CudaBackend(options, device(System::getenv));
    }

    /**
     * The GPU this process uses: FOVEA_CUDA_DEVICE if set; else, under mpirun, the rank's index on its machine
     * (OMPI_COMM_WORLD_LOCAL_RANK: one GPU per rank, as data-parallel training wants); else 0.
     */
    static int device(java.util.function.Function<String, String> env) {
        for (String name : List.of("FOVEA_CUDA_DEVICE", "OMPI_COMM_WORLD_LOCAL_RANK")) {
            String v = env.apply(name);
            if (v == null || v.isBlank()) continue;
            try {
                int d = Integer.parseInt(v.strip());
                if (d >= 0) return d;
            } catch (NumberFormatException e) {
                // not a number: the next one, or 0
            }
            throw new BackendUnavailableException(name + "=" + v + " is not a GPU index (0, 1, ...)");
        }
        return 0;
    }

    static String version(int v) { return v / 1000 + "." + v % 1000 / 10; }

    /** "driver CUDA 13.0, runtime 13.0, cuBLAS 13.1.1, cuBLASLt ..., cuDNN 9.14.0, NVRTC 13.0": what is loaded. */
    static String versions() {
        List<String> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            if (CudaLibraries.load(Lib.CUDART).ok()) {
                CudaRuntime.cudaDriverGetVersion(v);
                int d = v.get(ValueLayout.JAVA_INT, 0);
                out.add("driver " + (d == 0 ? "none" : "CUDA " + version(d)));
                CudaRuntime.cudaRuntimeGetVersion(v);
                out.add("runtime " + version(v.get(ValueLayout.JAVA_INT, 0)));
            }
            if (CudaLibraries.load(Lib.CUBLAS).ok()) {
                long lt = Cublas.cublasLtGetVersion();
                out.add("cuBLASLt " + lt / 10000 + "." + lt / 100 % 100 + "." + lt % 100);
            }
            if (CudaLibraries.load(Lib.CUDNN).ok()) {
                long d = Cudnn.cudnnGetVersion();
                out.add("cuDNN " + d / 10000 + "." + d / 100 % 100 + "." + d % 100);
            }
            if (CudaLibraries.load(Lib.NVRTC).ok()) out.add("NVRTC " + KernelCompiler.version());
        } catch (RuntimeException | LinkageError e) {
            out.add("(version query failed: " + e.getMessage() + ")");
        }
        return String.join(", ", out);
    }

    @Override public List<String> diagnostics() {
        List<String> lines = new ArrayList<>();
        for (CudaLibraries.Status s : CudaLibraries.all()) lines.add(s.describe());
        lines.add("versions: " + versions());
        List<java.nio.file.Path> dirs = CudaLibraries.searchPath(System::getenv);
        lines.add("searched, in order (FOVEA_CUDA_LIBS first): " + String.join(":", dirs.stream().map(Object::toString).toList()));
        return lines;
    }
}
