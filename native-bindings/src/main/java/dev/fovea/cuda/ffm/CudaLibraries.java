package dev.fovea.cuda.ffm;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The one place that finds and loads the CUDA libraries. The generated bindings ({@code cudart}, {@code cublas},
 * {@code cudnn}, {@code nvrtc}) look their symbols up among the libraries loaded here, so nothing touches a library
 * that was not found, and every class loads on a machine without CUDA.
 *
 * <p>Each library is searched for, in this order, in: {@code FOVEA_CUDA_LIBS} (folders separated by ':'),
 * {@code LD_LIBRARY_PATH}, the CUDA toolkit ({@code CUDA_HOME}, {@code CUDA_PATH}, {@code /usr/local/cuda},
 * {@code /usr/local/cuda-*}), the system library folders (with those named in {@code /etc/ld.so.conf.d}), and the
 * {@code nvidia-*} Python wheels ({@code site-packages/nvidia/*}{@code /lib} of {@code VIRTUAL_ENV},
 * {@code CONDA_PREFIX}, the user's and the system's Pythons). Each load is recorded with where it looked and why it
 * failed, for {@code fovea info} and for the one-line reason {@code --backend=cuda} exits with.
 */
public final class CudaLibraries {
    private CudaLibraries() {}

    /** The libraries Fovea uses; loading one loads what it needs first (cuBLAS needs cuBLASLt). */
    public enum Lib {
        /** The driver: only looked for (the runtime opens it itself); its absence means no usable GPU. */
        DRIVER("libcuda.so.1", "the NVIDIA driver"),
        CUDART("libcudart.so.13", "CUDA runtime 13"),
        CUBLASLT("libcublasLt.so.13", "cuBLASLt 13"),
        CUBLAS("libcublas.so.13", "cuBLAS 13"),
        CUDNN("libcudnn.so.9", "cuDNN 9"),
        NVRTC("libnvrtc.so.13", "NVRTC 13"),
        /** NCCL: the collective of data-parallel training on GPUs (not needed by the backend itself). */
        NCCL("libnccl.so.2", "NCCL 2");

        public final String file, what;
        Lib(String file, String what) { this.file = file; this.what = what; }
    }

    /** What happened when a library was looked for: where it was found (or null), where it looked, why not. */
    public record Status(Lib lib, Path path, List<Path> searched, String failure) {
        public boolean ok() { return failure == null; }

        /** "cuBLAS 13: /x/libcublas.so.13" or "cuBLAS 13: libcublas.so.13 not found in 14 folders (...)". */
        public String describe() {
            return lib.what + ": " + (ok() ? path.toString() : failure);
        }
    }

    // cuDNN 9 opens its sub-libraries by name at first use; loaded here first, by path, they are found whatever
    // LD_LIBRARY_PATH says (the dynamic linker matches an already loaded soname). Order: each after what it needs.
    private static final List<String> CUDNN_PARTS = List.of("libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9",
            "libcudnn_engines_runtime_compiled.so.9", "libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9");
    // NVRTC opens its builtins library by name when it compiles; without it nvrtcCompileProgram fails with 7.
    private static final String NVRTC_BUILTINS = "libnvrtc-builtins.so.13.0";

    private static final Map<Lib, Status> loaded = new EnumMap<>(Lib.class);

    /** Finds and loads the library (once; later calls return the first answer). Never throws. */
    public static synchronized Status load(Lib lib) {
        Status s = loaded.get(lib);
        if (s != null) return s;
        s = find(lib, searchPath(System::getenv));
        if (s.ok() && lib != Lib.DRIVER) s = loadFound(s);
        loaded.put(lib, s);
        return s;
    }

    /** Loads the library or throws {@link IllegalStateException} with {@link Status#describe()}. */
    public static Status require(Lib lib) {
        Status s = load(lib);
        if (!s.ok()) throw new IllegalStateException(s.describe());
        return s;
    }

    private static Status loadFound(Status s) {
        try {
            if (s.lib() == Lib.CUBLAS) {
                Status lt = load(Lib.CUBLASLT);
                if (!lt.ok()) return new Status(s.lib(), null, s.searched(), "needs " + lt.describe());
            }
            Path dir = s.path().getParent();
            if (s.lib() == Lib.CUDNN)
                for (String part : CUDNN_PARTS) if (Files.exists(dir.resolve(part))) System.load(dir.resolve(part).toString());
            if (s.lib() == Lib.NVRTC) {
                Path builtins = dir.resolve(NVRTC_BUILTINS);
                if (!Files.exists(builtins))
                    return new Status(s.lib(), null, s.searched(), NVRTC_BUILTINS + " is missing beside " + s.path() + " (NVRTC needs it to compile)");
                System.load(builtins.toString());
            }
            System.load(s.path().toString());
            return s;
        } catch (UnsatisfiedLinkError | SecurityException e) {
            return new Status(s.lib(), null, s.searched(), s.lib().file + " found at " + s.path() + " but failed to load: " + e.getMessage());
        }
    }

    /** Looks for the file in the folders, in order; does not load it. */
    public static Status find(Lib lib, List<Path> dirs) {
        for (Path d : dirs) {
            Path p = d.resolve(lib.file);
            if (Files.isRegularFile(p)) return new Status(lib, p, dirs, null);
        }
        return new Status(lib, null, dirs, lib.file + " not found in " + dirs.size() + " folders (fovea info lists them; FOVEA_CUDA_LIBS adds one)");
    }

    /** The folders searched, in order, for the environment {@code env}; only folders that exist. */
    public static List<Path> searchPath(Function<String, String> env) {
        LinkedHashSet<Path> dirs = new LinkedHashSet<>();
        split(env.apply("FOVEA_CUDA_LIBS"), dirs);
        split(env.apply("LD_LIBRARY_PATH"), dirs);
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = env.apply(var);
            if (home != null && !home.isBlank()) toolkit(Path.of(home), dirs);
        }
        toolkit(Path.of("/usr/local/cuda"), dirs);
        for (Path p : children(Path.of("/usr/local"), "cuda-*")) toolkit(p, dirs);
        for (String s : List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
                "/usr/local/lib", "/usr/lib/wsl/lib")) dirs.add(Path.of(s));
        for (Path conf : children(Path.of("/etc/ld.so.conf.d"), "*.conf")) {
            try {
                for (String line : Files.readAllLines(conf)) {
                    String l = line.strip();
                    if (l.startsWith("/")) dirs.add(Path.of(l));
                }
            } catch (IOException | RuntimeException ignored) {
                // an unreadable configuration file only means fewer folders to search
            }
        }
        List<Path> prefixes = new ArrayList<>();
        for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String v = env.apply(var);
            if (v != null && !v.isBlank()) prefixes.add(Path.of(v));
        }
        String home = env.apply("HOME");
        if (home != null && !home.isBlank()) prefixes.add(Path.of(home, ".local"));
        prefixes.add(Path.of("/usr/local"));
        prefixes.add(Path.of("/usr"));
        for (Path prefix : prefixes)
            for (Path lib : children(prefix.resolve("lib"), "python3*"))
                for (String sp : List.of("site-packages", "dist-packages"))
                    for (Path pkg : children(lib.resolve(sp).resolve("nvidia"), "*")) dirs.add(pkg.resolve("lib"));
        return dirs.stream().filter(Files::isDirectory).toList();
    }

    private static void toolkit(Path home, LinkedHashSet<Path> dirs) {
        dirs.add(home.resolve("lib64"));
        dirs.add(home.resolve("targets/x86_64-linux/lib"));
    }

    private static void split(String path, LinkedHashSet<Path> dirs) {
        if (path == null) return;
        for (String s : path.split(":")) if (!s.isBlank()) dirs.add(Path.of(s));
    }

    private static List<Path> children(Path dir, String glob) {
        if (!Files.isDirectory(dir)) return List.of();
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) out.add(p);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
        out.sort(null);
        return out;
    }

    /** Every library's status, loading what can be loaded: the lines {@code fovea info} prints. */
    public static List<Status> all() {
        List<Status> out = new ArrayList<>();
        for (Lib l : Lib.values()) out.add(load(l));
        return out;
    }

    /** The first library among {@code libs} that is not usable, if any. */
    public static Optional<Status> firstMissing(Lib... libs) {
        for (Lib l : libs) {
            Status s = load(l);
            if (!s.ok()) return Optional.of(s);
        }
        return Optional.empty();
    }
}
