package dev.fovea.cuda;

import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.cuda.ffm.CudaLibraries.Lib;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The loader and the bindings, on any machine: where the libraries are looked for, what a missing one reports, and
 * that every function the bindings declare resolves in the real cuBLAS, cuDNN, NVRTC and CUDA runtime libraries
 * (installed from the nvidia-* wheels by .ci/run; in CI their absence fails the test instead of skipping it).
 */
class CudaLibrariesTest {

    @Test void searchOrderPutsFoveaCudaLibsFirstThenLdLibraryPathThenToolkitSystemAndWheels(@TempDir Path tmp) throws Exception {
        Path mine = Files.createDirectories(tmp.resolve("mine")), ld = Files.createDirectories(tmp.resolve("ld"));
        Path venv = tmp.resolve("venv");
        Path wheel = Files.createDirectories(venv.resolve("lib/python3.12/site-packages/nvidia/cudnn/lib"));
        Path cu13 = Files.createDirectories(venv.resolve("lib/python3.12/site-packages/nvidia/cu13/lib"));
        Map<String, String> env = Map.of("FOVEA_CUDA_LIBS", mine.toString(), "LD_LIBRARY_PATH", ld + ":" + tmp.resolve("missing"),
                "VIRTUAL_ENV", venv.toString());
        List<Path> dirs = CudaLibraries.searchPath(env::get);
        assertEquals(mine, dirs.get(0));
        assertEquals(ld, dirs.get(1));
        assertFalse(dirs.contains(tmp.resolve("missing")), "folders that do not exist are left out");
        assertTrue(dirs.indexOf(cu13) > dirs.indexOf(Path.of("/usr/lib")) || !dirs.contains(Path.of("/usr/lib")), "wheels come after the system folders");
        assertTrue(dirs.contains(wheel) && dirs.contains(cu13), "site-packages/nvidia/*/lib of VIRTUAL_ENV: " + dirs);
    }

    @Test void theFirstFolderThatHasTheLibraryWins(@TempDir Path tmp) throws Exception {
        Path a = Files.createDirectories(tmp.resolve("a")), b = Files.createDirectories(tmp.resolve("b"));
        Files.createFile(b.resolve("libcudnn.so.9"));
        Files.createFile(a.resolve("libcudnn.so.9"));
        CudaLibraries.Status s = CudaLibraries.find(Lib.CUDNN, List.of(a, b));
        assertTrue(s.ok());
        assertEquals(a.resolve("libcudnn.so.9"), s.path());
    }

    @Test void aMissingLibraryNamesTheFileAndHowManyFoldersWereSearched(@TempDir Path tmp) {
        CudaLibraries.Status s = CudaLibraries.find(Lib.DRIVER, List.of(tmp, tmp.resolve("x")));
        assertFalse(s.ok());
        assertNull(s.path());
        assertEquals("the NVIDIA driver: libcuda.so.1 not found in 2 folders (fovea info lists them; FOVEA_CUDA_LIBS adds one)", s.describe());
        assertEquals(List.of(tmp, tmp.resolve("x")), s.searched());
    }

    /** Every {@code NAME$address()} of a generated header class, called: each looks its symbol up in the loaded libraries. */
    @Test void everyBoundFunctionResolvesInTheRealLibraries() throws Exception {
        List<String> missing = new ArrayList<>();
        for (Lib l : List.of(Lib.CUDART, Lib.CUBLAS, Lib.CUDNN, Lib.NVRTC)) {
            CudaLibraries.Status s = CudaLibraries.load(l);
            if (!s.ok()) missing.add(s.describe());
        }
        if (!missing.isEmpty()) {
            if (Gpu.librariesRequired()) fail("CI installs the CUDA libraries (.ci/run); missing: " + missing);
            Assumptions.abort("CUDA libraries not installed here (python3 -m venv .venv && .venv/bin/pip install the nvidia-* wheels, see README): " + missing);
        }
        int resolved = 0;
        for (String cls : List.of("cudart.CudaRuntime", "cublas.Cublas", "cudnn.Cudnn", "nvrtc.Nvrtc")) {
            Class<?> c = Class.forName("dev.fovea.cuda.ffm." + cls);
            for (Method m : c.getDeclaredMethods()) {
                if (!m.getName().endsWith("$address") || !Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0) continue;
                try {
                    MemorySegment addr = (MemorySegment) m.invoke(null);
                    assertTrue(addr.address() != 0, m.getName());
                    resolved++;
                } catch (java.lang.reflect.InvocationTargetException e) {
                    Throwable cause = e.getCause() instanceof ExceptionInInitializerError ei ? ei.getCause() : e.getCause();
                    missing.add(cls + "." + m.getName().replace("$address", "") + ": " + cause);
                }
            }
        }
        assertTrue(missing.isEmpty(), "unresolved: " + missing);
        int listed = 0;
        // Maven runs the tests in tests/, the device bundle (tools/gpu-check.sh) in the repository root
        Path lists = Files.isDirectory(Path.of("native-bindings/lists")) ? Path.of("native-bindings/lists") : Path.of("../native-bindings/lists");
        for (String f : List.of("cudart", "cublas", "cudnn", "nvrtc"))
            listed += (int) Files.readAllLines(lists.resolve(f + ".functions")).stream()
                    .filter(x -> !x.isBlank() && !x.startsWith("#")).count();
        assertEquals(listed, resolved, "every function in native-bindings/lists/*.functions is generated and resolves");
    }

    @Test void theLibrariesAnswerWithoutAGpu() {
        for (Lib l : List.of(Lib.CUDART, Lib.CUBLAS, Lib.CUDNN, Lib.NVRTC))
            if (!CudaLibraries.load(l).ok()) {
                if (Gpu.librariesRequired()) fail(CudaLibraries.load(l).describe());
                Assumptions.abort(CudaLibraries.load(l).describe());
            }
        String v = CudaBackendProvider.versions();
        assertTrue(v.matches(".*runtime 13\\.\\d.*cuBLASLt 13\\.\\d+\\.\\d+.*cuDNN 9\\.\\d+\\.\\d+.*NVRTC 13\\.\\d.*"), v);
    }
}
