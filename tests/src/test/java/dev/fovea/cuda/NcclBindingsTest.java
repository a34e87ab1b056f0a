package dev.fovea.cuda;

import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.cuda.ffm.nccl.Nccl;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * NCCL's bindings against the real libnccl.so.2 (the nvidia-nccl-cu13 wheel, installed by .ci/run): every bound
 * function resolves, and NCCL answers its version and an error's message, which need no GPU. The collective calls on
 * device memory need one and have not run.
 */
class NcclBindingsTest {
    static void loaded() {
        CudaLibraries.Status s = CudaLibraries.load(CudaLibraries.Lib.NCCL);
        if (s.ok()) return;
        if (Gpu.librariesRequired()) fail("CI installs NCCL (tools/cuda-wheels.sh): " + s.describe());
        Assumptions.abort("NCCL is not installed here (tools/cuda-wheels.sh .venv): " + s.describe());
    }

    @Test void everyBoundFunctionResolves() throws Exception {
        loaded();
        List<String> missing = new ArrayList<>();
        int resolved = 0;
        for (Method m : Nccl.class.getDeclaredMethods()) {
            if (!m.getName().endsWith("$address") || !Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0) continue;
            try {
                assertTrue(((MemorySegment) m.invoke(null)).address() != 0, m.getName());
                resolved++;
            } catch (java.lang.reflect.InvocationTargetException e) {
                missing.add(m.getName() + ": " + e.getCause());
            }
        }
        for (Class<?> c : Nccl.class.getDeclaredClasses()) {            // functions declared without a prototype: a class each
            Method address = null;
            for (Method m : c.getDeclaredMethods()) if (m.getName().equals("address") && m.getParameterCount() == 0) address = m;
            if (address == null) continue;
            assertTrue(((MemorySegment) address.invoke(null)).address() != 0, c.getSimpleName());
            resolved++;
        }
        assertTrue(missing.isEmpty(), "unresolved: " + missing);
        Path lists = Files.isDirectory(Path.of("native-bindings/lists")) ? Path.of("native-bindings/lists") : Path.of("../native-bindings/lists");
        long listed = Files.readAllLines(lists.resolve("nccl.functions")).stream().filter(x -> !x.isBlank() && !x.startsWith("#")).count();
        assertEquals(listed, resolved, "every function in nccl.functions is generated and resolves");
    }

    @Test void ncclAnswersWithoutAGpu() {
        loaded();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            assertEquals(Nccl.ncclSuccess(), Nccl.ncclGetVersion(v));
            assertEquals("2.30.7", dev.fovea.distributed.NcclCollective.version(v.get(ValueLayout.JAVA_INT, 0)));
        }
        assertEquals("no error", Nccl.ncclGetErrorString(Nccl.ncclSuccess()).reinterpret(100).getString(0));
    }
}
