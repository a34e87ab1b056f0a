package dev.fovea.cuda;

import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every kernel of kernels.cu compiles with the real NVRTC, which needs no GPU, for the A100's and the H100's
 * architectures; the PTX has an entry for each kernel, and where the toolkit's ptxas is installed it assembles.
 */
class KernelCompileTest {

    static void needNvrtc() {
        CudaLibraries.Status s = CudaLibraries.load(CudaLibraries.Lib.NVRTC);
        if (s.ok()) return;
        if (Gpu.librariesRequired()) fail("CI installs NVRTC (.ci/run): " + s.describe());
        Assumptions.abort(s.describe());
    }

    static List<String> kernelNames(String src) {
        List<String> names = new ArrayList<>();
        Matcher m = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(").matcher(src);
        while (m.find()) names.add(m.group(1));
        return names;
    }

    @ParameterizedTest(name = "compute_{0}")
    @ValueSource(ints = {80, 90})
    void everyKernelCompiles(int cc) {
        needNvrtc();
        String src = KernelCompiler.source();
        String ptx = KernelCompiler.compile(src, KernelCompiler.SOURCE, cc); // throws with NVRTC's log on failure
        assertTrue(ptx.contains(".target sm_" + cc), "PTX for sm_" + cc);
        List<String> names = kernelNames(src);
        assertTrue(names.size() >= 25, "kernels found in the source: " + names);
        for (String n : names) assertTrue(ptx.contains(".entry " + n + "("), "no .entry for " + n);
    }

    /** NVRTC's PTX through the toolkit's assembler, as the driver's JIT will take it (CI has the toolkit). */
    @ParameterizedTest(name = "sm_{0}")
    @ValueSource(ints = {80, 90})
    void everyKernelAssemblesWithPtxas(int cc, @TempDir Path tmp) throws Exception {
        needNvrtc();
        Path ptxas = Path.of("/usr/local/cuda/bin/ptxas");
        if (!Files.isExecutable(ptxas)) {
            if (Gpu.librariesRequired()) fail("CI needs the CUDA toolkit's ptxas at " + ptxas);
            Assumptions.abort("no CUDA toolkit here (" + ptxas + " missing)");
        }
        Path file = Files.writeString(tmp.resolve("k.ptx"), KernelCompiler.compile(KernelCompiler.source(), KernelCompiler.SOURCE, cc));
        Process p = new ProcessBuilder(ptxas.toString(), "-arch=sm_" + cc, "-o", tmp.resolve("k.cubin").toString(), file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ptxas took over 2 minutes");
        assertEquals(0, p.exitValue(), "ptxas -arch=sm_" + cc + ":\n" + out);
        assertTrue(Files.size(tmp.resolve("k.cubin")) > 0, "ptxas wrote no cubin");
    }

    @Test void aCompileErrorCarriesNvrtcsLog() {
        needNvrtc();
        CudaException e = assertThrows(CudaException.class,
                () -> KernelCompiler.compile("extern \"C\" __global__ void broken(float* x) { x[0] = undeclared; }", "broken.cu", 90));
        assertTrue(e.getMessage().contains("broken.cu") && e.getMessage().contains("undeclared"), e.getMessage());
    }

    @Test void thePtxIsCachedOnDisk() throws Exception {
        needNvrtc();
        Path cache = KernelCompiler.cacheDir();
        String ptx = KernelCompiler.cachedPtx(80);
        String again = KernelCompiler.cachedPtx(80);
        assertEquals(ptx, again);
        try (var files = Files.list(cache)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().endsWith("-compute_80.ptx")), "a cached PTX in " + cache);
        }
    }
}
