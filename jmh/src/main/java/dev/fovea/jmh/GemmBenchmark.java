package dev.fovea.jmh;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Epilogue;
import dev.fovea.backend.Precision;
import dev.fovea.bench.OpenBlas;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * GEMM, Fovea against OpenBLAS on the same operands. Shapes: squares 256–2048 and the products a ViT-Ti/16 forward
 * pass makes at batch 1 (197 tokens, width 192, MLP 768): "MxNxK". Run with, e.g.,
 * {@code java -jar jmh/target/benchmarks.jar Gemm -p threads=2}. Score: ms per call (lower is better).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GemmBenchmark {
    @Param({"256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048", "197x576x192", "197x192x192", "197x768x192", "197x192x768"})
    public String shape;
    @Param({"1", "2"}) public int threads;
    /** B as given ("n", [K, N]) or transposed ("t", stored [N, K]): a linear layer's weight is [out, in], its product x·wᵀ. */
    @Param({"n"}) public String b;
    /** A as given ("n", [M, K]) or transposed ("t", stored [K, M]): a linear layer's weight gradient is dyᵀ·x. */
    @Param({"n"}) public String a;
    /**
     * Fovea only: what its GEMM adds to C on the way out, as a linear layer asks ("none", "bias", or "residual": bias
     * and an M×N residual). OpenBLAS has no epilogue; its score stays the product alone.
     */
    @Param({"none"}) public String epilogue;

    int m, n, k;
    CpuBackend cpu;
    Tensor at, bt, c, bias, residual;
    Epilogue ep;
    Arena arena;
    MemorySegment sa, sb, sc;
    OpenBlas blas;

    @Setup(Level.Trial) public void setUp() {
        String[] p = shape.split("x");
        m = Integer.parseInt(p[0]); n = Integer.parseInt(p[1]); k = Integer.parseInt(p[2]);
        SplittableRandom r = new SplittableRandom(1);
        float[] av = new float[m * k], bv = new float[k * n];
        for (int i = 0; i < av.length; i++) av[i] = (float) r.nextDouble();
        for (int i = 0; i < bv.length; i++) bv[i] = (float) r.nextDouble();
        cpu = new CpuBackend(new BackendOptions(threads, Precision.FP32));
        at = transposed(this.a) ? cpu.upload(av, k, m) : cpu.upload(av, m, k);
        bt = transB() ? cpu.upload(bv, n, k) : cpu.upload(bv, k, n); c = cpu.zeros(m, n);
        bias = cpu.upload(java.util.Arrays.copyOf(bv, n), n);
        residual = cpu.zeros(m, n);
        ep = switch (epilogue) {
            case "none" -> Epilogue.NONE;
            case "bias" -> new Epilogue(bias, null);
            case "residual" -> new Epilogue(bias, residual);
            default -> throw new IllegalArgumentException("epilogue must be none, bias or residual, got " + epilogue);
        };
        OpenBlas.preferAvx512Kernels("auto");
        blas = OpenBlas.load().orElseThrow(() -> new IllegalStateException(OpenBlas.unavailableReason()));
        blas.setThreads(threads);
        arena = Arena.ofShared();
        sa = arena.allocate(4L * m * k, 64); sb = arena.allocate(4L * k * n, 64); sc = arena.allocate(4L * m * n, 64);
        MemorySegment.copy(av, 0, sa, ValueLayout.JAVA_FLOAT, 0, av.length);
        MemorySegment.copy(bv, 0, sb, ValueLayout.JAVA_FLOAT, 0, bv.length);
    }

    private boolean transB() { return transposed(b); }

    private static boolean transposed(String layout) {
        if (!layout.equals("n") && !layout.equals("t")) throw new IllegalArgumentException("a and b must be n or t, got " + layout);
        return layout.equals("t");
    }

    @TearDown(Level.Trial) public void tearDown() {
        at.close(); bt.close(); c.close(); bias.close(); residual.close(); cpu.close(); arena.close();
    }

    @Benchmark public Tensor fovea() {
        cpu.gemm(at, transposed(a), bt, transB(), c, 1f, 0f, ep);
        return c;
    }

    @Benchmark public MemorySegment openblas() {
        boolean ta = transposed(a);
        blas.sgemm(ta, transB(), m, n, k, 1f, sa, ta ? m : k, sb, transB() ? k : n, 0f, sc, n);
        return sc;
    }
}
