package dev.fovea.cli;

import dev.fovea.bench.GemmBench;
import dev.fovea.bench.OpenBlas;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code fovea bench ...}: throughput side by side with a named peer. */
@Command(name = "bench", description = "Benchmarks, side by side with a peer.", subcommands = {BenchCommand.Gemm.class})
final class BenchCommand {

    @Command(name = "gemm", description = {"Square SGEMM: Fovea's CPU kernel against OpenBLAS cblas_sgemm on the same data.",
            "Last line: gemm n=N threads=T fovea=X openblas=Y GFLOP/s ratio=Z"})
    static final class Gemm implements Callable<Integer> {
        @Option(names = "--n", description = "matrix size (default: ${DEFAULT-VALUE})") int n = 1024;
        @Option(names = "--threads", description = "threads for both (default: all cores)") int threads;
        @Option(names = "--repeats", description = "timed repeats, median reported (default: ${DEFAULT-VALUE})") int repeats = 7;
        @Option(names = "--warmup", description = "warm-up seconds per side (default: ${DEFAULT-VALUE})") double warmup = 2.0;
        @Option(names = "--seconds", description = "seconds per timed repeat per side (default: ${DEFAULT-VALUE})") double seconds = 0.5;
        @Option(names = "--settle", description = "seconds of pause before each timed side (default: ${DEFAULT-VALUE}; OpenBLAS's threads keep spinning for a while after a call)") double settle = 0.5;
        @Option(names = "--openblas-core", description = "OpenBLAS kernel family (OPENBLAS_CORETYPE): auto, native, SkylakeX, Haswell, ... (default: ${DEFAULT-VALUE})")
        String core = "auto";

        @Override public Integer call() {
            int t = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
            if (t < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            if (n < 1) throw new IllegalArgumentException("--n must be >= 1, got " + n);
            String note = OpenBlas.preferAvx512Kernels(core);
            if (note != null) System.out.println("note: " + note);
            OpenBlas.load().ifPresent(o -> System.out.println("openblas: " + o.path() + ", core " + o.coreName() + " (" + o.config() + ")"));
            System.out.printf("gemm: C[%d×%d] = A·B, float32, %d thread(s)%n", n, n, t);
            if (settle < 0) throw new IllegalArgumentException("--settle must be >= 0, got " + settle);
            GemmBench.Result r = GemmBench.run(n, t, repeats, warmup, seconds, settle, System.out);
            if (!Double.isNaN(r.relErr())) System.out.printf("results agree: relative error %.2e%n", r.relErr());
            System.out.println(r.line());
            return 0;
        }
    }
}
