package dev.fovea.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * kernels.cu compiled for the host with g++ under the CUDA emulation of emulation.h (resources beside this class), and
 * a {@link KernelOps.Launcher} that runs its kernels there: the same launches, with the same arguments, that the CUDA
 * backend sends to the GPU.
 */
final class EmulatedKernels implements KernelOps.Launcher {
    /** Kernels that loop over their range (grid-stride or rows += gridDim.x): any grid is correct, a small one is fast here. */
    private static final Set<String> LOOPING = Set.of("fill", "binary", "addChannelBias", "scale", "axpy", "rowSum", "colSum", "permute",
            "sliceCopy", "gatherRows", "scatterAddRows", "activationForward", "activationBackward", "softmaxForward", "softmaxBackward",
            "crossEntropyRows", "crossEntropyBackward", "layerNormForward", "layerNormBackwardData", "layerNormBackwardParams",
            "sgdStep", "adamWStep");
    private static final int EMULATED_GRID_MAX = 3;

    private final MethodHandle launch;

    private EmulatedKernels(Path library) {
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        launch = Linker.nativeLinker().downcallHandle(lib.findOrThrow("emu_launch"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    }

    private static volatile Object built;

    /** Compiles once per JVM; an {@link IllegalStateException} with the compiler's output if that fails (then on every call). */
    static synchronized EmulatedKernels get() {
        if (built instanceof EmulatedKernels k) return k;
        if (built instanceof RuntimeException e) throw e;
        try {
            built = new EmulatedKernels(build());
        } catch (RuntimeException e) {
            built = e;
            throw e;
        }
        return (EmulatedKernels) built;
    }

    static boolean compilerPresent() {
        try {
            return new ProcessBuilder("g++", "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static Path build() {
        try {
            Path dir = Files.createDirectories(Path.of("target", "kernel-emulation")).toAbsolutePath();
            String src = KernelCompiler.source();
            Files.writeString(dir.resolve("kernels.cu"), src);
            for (String f : new String[]{"emulation.h", "emu.cpp"})
                try (InputStream in = EmulatedKernels.class.getResourceAsStream("emulation/" + f)) {
                    Files.write(dir.resolve(f), in.readAllBytes());
                }
            Files.writeString(dir.resolve("emu_kernels.inc"), KernelCompileTest.kernelNames(src).stream().map(n -> "K(" + n + ")\n").collect(Collectors.joining()));
            Path so = dir.resolve("libfoveaemu.so");
            Process p = new ProcessBuilder("g++", "-std=c++20", "-O1", "-g", "-shared", "-fPIC", "-pthread", "-Wall", "-Wno-unused-function",
                    "-include", "emulation.h", "-I", dir.toString(), "-x", "c++", "emu.cpp", "-o", so.toString())
                    .directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0)
                throw new IllegalStateException("g++ could not build the kernel emulation:\n" + out);
            return so;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override public void launch(String kernel, int gridX, int gridY, int block, long sharedBytes, Kernels.ArgWriter w) {
        if (gridX <= 0 || gridY <= 0) return;
        int gx = LOOPING.contains(kernel) ? Math.min(gridX, EMULATED_GRID_MAX) : gridX;
        try (Arena a = Arena.ofConfined()) {
            Kernels.Args args = new Kernels.Args(a);
            w.write(args);
            int rc = (int) launch.invokeExact(a.allocateFrom(kernel), gx, gridY, block, sharedBytes, args.array());
            if (rc != 0) throw new IllegalStateException("emu_launch(" + kernel + ") returned " + rc + (rc == -1 ? " (no such kernel)" : " (block of " + block + " threads)"));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
