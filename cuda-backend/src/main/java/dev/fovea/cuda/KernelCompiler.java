package dev.fovea.cuda;

import dev.fovea.cuda.ffm.CudaLibraries;
import dev.fovea.cuda.ffm.nvrtc.Nvrtc;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * CUDA C to PTX with NVRTC, which needs no GPU and no driver. The PTX is cached on disk under
 * {@code $FOVEA_CACHE} (default {@code ~/.cache/fovea}) {@code /ptx/}, keyed by the source's and options' hash and the
 * architecture, so a second process skips the compilation.
 */
public final class KernelCompiler {
    private KernelCompiler() {}

    /** The kernels' source, a resource of this module. */
    public static final String SOURCE = "kernels.cu";

    public static String source() {
        try (InputStream in = KernelCompiler.class.getResourceAsStream(SOURCE)) {
            if (in == null) throw new IllegalStateException("resource " + SOURCE + " is missing from the cuda-backend jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> options(int computeCapability) {
        // compute_XY: PTX that the driver compiles for the device (and newer ones); no fast-math: expf/erff as precise as the CPU's
        return List.of("--gpu-architecture=compute_" + computeCapability, "--std=c++17", "-default-device", "--fmad=true");
    }

    /** NVRTC's version as "major.minor". */
    public static String version() {
        CudaLibraries.require(CudaLibraries.Lib.NVRTC);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(ValueLayout.JAVA_INT), minor = a.allocate(ValueLayout.JAVA_INT);
            CudaException.nvrtc(Nvrtc.nvrtcVersion(major, minor), "nvrtcVersion");
            return major.get(ValueLayout.JAVA_INT, 0) + "." + minor.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** Compiles {@code src} for compute capability {@code cc} (80, 90, ...); throws with NVRTC's log on failure. */
    public static String compile(String src, String name, int cc) {
        CudaLibraries.require(CudaLibraries.Lib.NVRTC);
        List<String> opts = options(cc);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = a.allocate(ValueLayout.ADDRESS);
            CudaException.nvrtc(Nvrtc.nvrtcCreateProgram(prog, a.allocateFrom(src), a.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL), "nvrtcCreateProgram");
            MemorySegment p = prog.get(ValueLayout.ADDRESS, 0);
            try {
                MemorySegment optv = a.allocate(ValueLayout.ADDRESS, opts.size());
                for (int i = 0; i < opts.size(); i++) optv.setAtIndex(ValueLayout.ADDRESS, i, a.allocateFrom(opts.get(i)));
                int rc = Nvrtc.nvrtcCompileProgram(p, opts.size(), optv);
                if (rc != 0) {
                    String msg = Nvrtc.nvrtcGetErrorString(rc).reinterpret(256).getString(0);
                    throw new CudaException("NVRTC could not compile " + name + " for compute_" + cc + ": " + msg + " (" + rc + ")\n" + log(a, p));
                }
                MemorySegment size = a.allocate(ValueLayout.JAVA_LONG);
                CudaException.nvrtc(Nvrtc.nvrtcGetPTXSize(p, size), "nvrtcGetPTXSize");
                MemorySegment ptx = a.allocate(size.get(ValueLayout.JAVA_LONG, 0));
                CudaException.nvrtc(Nvrtc.nvrtcGetPTX(p, ptx), "nvrtcGetPTX");
                return ptx.getString(0);
            } finally {
                Nvrtc.nvrtcDestroyProgram(prog);
            }
        }
    }

    private static String log(Arena a, MemorySegment p) {
        MemorySegment size = a.allocate(ValueLayout.JAVA_LONG);
        if (Nvrtc.nvrtcGetProgramLogSize(p, size) != 0) return "(no log)";
        MemorySegment log = a.allocate(Math.max(1, size.get(ValueLayout.JAVA_LONG, 0)));
        if (Nvrtc.nvrtcGetProgramLog(p, log) != 0) return "(no log)";
        return log.getString(0);
    }

    /** The PTX of {@link #source()} for {@code cc}, from the disk cache or compiled (and then cached). */
    public static String cachedPtx(int cc) {
        String src = source();
        Path file = cacheDir().resolve(hash(src + options(cc)) + "-compute_" + cc + ".ptx");
        try {
            if (Files.isRegularFile(file)) return Files.readString(file);
        } catch (IOException e) {
            // an unreadable cache entry is compiled again
        }
        String ptx = compile(src, SOURCE, cc);
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            Files.writeString(tmp, ptx);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // no cache (read-only home): compiled again next time, nothing lost
        }
        return ptx;
    }

    static Path cacheDir() {
        String env = System.getenv("FOVEA_CACHE");
        Path base = env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "fovea");
        return base.resolve("ptx");
    }

    static String hash(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8))).substring(0, 24);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
