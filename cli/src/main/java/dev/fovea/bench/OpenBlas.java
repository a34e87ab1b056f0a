package dev.fovea.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * OpenBLAS's {@code cblas_sgemm}, called through FFM: the yardstick for our GEMM. Loaded on first use from the
 * system loader's names or Debian's paths; {@link #load()} says exactly why when it cannot be loaded.
 */
public final class OpenBlas {
    public static final String INSTALL_HINT = "install it with: apt-get install libopenblas-dev (Debian/Ubuntu)";
    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

    private final MethodHandle sgemm, setThreads, coreName, config;
    private final String path;

    private OpenBlas(SymbolLookup lib, String path) {
        Linker l = Linker.nativeLinker();
        ValueLayout.OfInt I = ValueLayout.JAVA_INT;
        ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
        this.sgemm = l.downcallHandle(lib.find("cblas_sgemm").orElseThrow(),
                FunctionDescriptor.ofVoid(I, I, I, I, I, I, F, ValueLayout.ADDRESS, I, ValueLayout.ADDRESS, I, F, ValueLayout.ADDRESS, I));
        this.setThreads = l.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(I));
        this.coreName = l.downcallHandle(lib.find("openblas_get_corename").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        this.config = l.downcallHandle(lib.find("openblas_get_config").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        this.path = path;
    }

    private static OpenBlas instance;
    private static String failure;

    /** The library, or the reason it is unavailable (every path tried). */
    public static synchronized Optional<OpenBlas> load() {
        if (instance != null || failure != null) return Optional.ofNullable(instance);
        List<String> tried = new ArrayList<>();
        List<String> candidates = new ArrayList<>(List.of("libopenblas.so.0", "libopenblas.so"));
        for (String d : List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/openblas-pthread", "/usr/lib64", "/usr/local/lib", "/opt/OpenBLAS/lib"))
            for (String f : List.of("libopenblas.so.0", "libopenblas.so"))
                if (Files.exists(Path.of(d, f))) candidates.add(d + "/" + f);
        String override = System.getenv("FOVEA_OPENBLAS");
        if (override != null) candidates.addFirst(override);
        for (String c : candidates) {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup(c, Arena.global());
                instance = new OpenBlas(lib, c);
                return Optional.of(instance);
            } catch (RuntimeException e) {
                tried.add(c + " (" + e.getMessage() + ")");
            }
        }
        failure = "OpenBLAS not found; tried " + tried + "; " + INSTALL_HINT + " or set FOVEA_OPENBLAS to the library's path";
        return Optional.empty();
    }

    public static synchronized String unavailableReason() {
        load();
        return failure;
    }

    public String path() { return path; }

    public void setThreads(int n) {
        try { setThreads.invokeExact(n); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    /** The kernel family OpenBLAS chose at load time (e.g. SkylakeX, Haswell, Prescott). */
    public String coreName() {
        try { return ((MemorySegment) coreName.invokeExact()).reinterpret(256).getString(0); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    public String config() {
        try { return ((MemorySegment) config.invokeExact()).reinterpret(1024).getString(0).trim(); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    /** C ← alpha·op(A)·op(B) + beta·C on row-major native matrices. */
    public void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        try {
            sgemm.invokeExact(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemm failed", t);
        }
    }

    /**
     * OpenBLAS picks its kernels from {@code OPENBLAS_CORETYPE} when it loads, else from cpuid. Debian 12's OpenBLAS
     * 0.3.21 does not recognise recent Xeons and falls back to its SSE3 "Prescott" kernels there. When the variable is
     * unset and this CPU has AVX-512, select OpenBLAS's AVX-512 kernels (SkylakeX) before the library loads, so that
     * the comparison is against OpenBLAS at its best. Returns a note saying what was done, or null.
     */
    public static synchronized String preferAvx512Kernels(String requested) {
        if (instance != null) return null; // too late: the library already chose
        String env = System.getenv("OPENBLAS_CORETYPE");
        String choice = requested;
        if (choice == null || choice.equals("auto")) {
            if (env != null) return null;
            if (!cpuHasAvx512()) return null;
            choice = "SkylakeX";
        }
        if (choice.equals("native")) return null;
        setenv("OPENBLAS_CORETYPE", choice);
        return "OPENBLAS_CORETYPE=" + choice + (requested == null || requested.equals("auto")
                ? " selected (the variable was unset and this CPU has AVX-512; choose another with --openblas-core, or 'native' for OpenBLAS's own detection)"
                : " (from --openblas-core)");
    }

    static boolean cpuHasAvx512() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("flags")) return line.contains(" avx512f");
        } catch (java.io.IOException e) {
            return false;
        }
        return false;
    }

    private static void setenv(String k, String v) {
        Linker l = Linker.nativeLinker();
        MethodHandle h = l.downcallHandle(l.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            int rc = (int) h.invokeExact(a.allocateFrom(k), a.allocateFrom(v), 1);
            if (rc != 0) throw new IllegalStateException("setenv(" + k + ") failed");
        } catch (Throwable t) {
            throw new IllegalStateException("setenv(" + k + ") failed", t);
        }
    }
}
