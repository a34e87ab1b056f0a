package dev.fovea.mpi;

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
 * Finds and loads Open MPI's libmpi for the generated bindings ({@code dev.fovea.mpi.ffm.Mpi}), and looks up its
 * predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...: addresses of Open MPI's global objects). The library is
 * opened with RTLD_GLOBAL before Java loads it, as mpi4py does: Open MPI's components, which it opens itself, resolve
 * their symbols in it. Searched: FOVEA_MPI_LIB (a file), then the usual Debian and /usr/lib folders.
 */
public final class MpiLibrary {
    private MpiLibrary() {}

    private static final String[] SEARCH = {"/usr/lib/x86_64-linux-gnu/libmpi.so.40", "/usr/lib/x86_64-linux-gnu/openmpi/lib/libmpi.so.40",
            "/usr/lib64/openmpi/lib/libmpi.so.40", "/usr/lib/libmpi.so.40", "/usr/local/lib/libmpi.so.40"};
    private static final int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

    private static Path loaded;
    private static String reason;

    /** The library's path once loaded, or why it could not be: the paths searched. */
    public static synchronized Optional<String> load() {
        if (loaded != null) return Optional.empty();
        if (reason != null) return Optional.of(reason);
        List<String> tried = new ArrayList<>();
        String env = System.getenv("FOVEA_MPI_LIB");
        List<String> candidates = new ArrayList<>();
        if (env != null && !env.isBlank()) candidates.add(env);
        candidates.addAll(List.of(SEARCH));
        for (String c : candidates) {
            Path p = Path.of(c);
            if (!Files.isRegularFile(p)) { tried.add(c + " (absent)"); continue; }
            try {
                dlopenGlobal(p);
                System.load(p.toString());
                loaded = p;
                return Optional.empty();
            } catch (Throwable e) {
                tried.add(c + " (" + e.getMessage() + ")");
            }
        }
        reason = "Open MPI's libmpi.so.40 was not found or would not load (apt-get install openmpi-bin libopenmpi-dev, or FOVEA_MPI_LIB=FILE): "
                + String.join("; ", tried);
        return Optional.of(reason);
    }

    public static synchronized Path path() { return loaded; }

    private static void dlopenGlobal(Path p) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle dlopen = linker.downcallHandle(linker.defaultLookup().findOrThrow("dlopen"),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment h = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(p.toString()), RTLD_NOW | RTLD_GLOBAL);
            if (h.equals(MemorySegment.NULL)) throw new IllegalStateException("dlopen failed");
        }
    }

    /** The address of one of Open MPI's predefined objects ("ompi_mpi_comm_world", "ompi_mpi_float", ...): the handle. */
    public static MemorySegment handle(String global) {
        if (loaded == null) throw new IllegalStateException("MPI is not loaded: " + load().orElse(""));
        return SymbolLookup.loaderLookup().findOrThrow(global);
    }
}
