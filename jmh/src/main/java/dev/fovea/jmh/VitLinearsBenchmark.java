package dev.fovea.jmh;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Epilogue;
import dev.fovea.backend.Precision;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The linear layers of a ViT-Ti/16 forward pass at batch 1, in a pass's order: for each of 12 blocks (each with its
 * own weights, so they come from L3 or memory as in a real pass rather than staying in L2 as in {@link GemmBenchmark}),
 * qkv (197×192 → 576, bias), proj (192 → 192, bias and the residual), fc1 (192 → 768, bias) and fc2 (768 → 192, bias
 * and the residual). {@code epilogue=none} runs the same 48 products without bias or residual: the difference is
 * what the epilogue costs. Score: ms per pass of the 48 products.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class VitLinearsBenchmark {
    static final int BLOCKS = 12, TOKENS = 197, WIDTH = 192, QKV = 3 * WIDTH, MLP = 4 * WIDTH;

    @Param({"fused", "none"}) public String epilogue;
    @Param({"2"}) public int threads;

    CpuBackend cpu;
    final Tensor[] wQkv = new Tensor[BLOCKS], bQkv = new Tensor[BLOCKS], wProj = new Tensor[BLOCKS], bProj = new Tensor[BLOCKS];
    final Tensor[] w1 = new Tensor[BLOCKS], b1 = new Tensor[BLOCKS], w2 = new Tensor[BLOCKS], b2 = new Tensor[BLOCKS];
    Tensor x, qkv, attn, y, hidden, out;  // [197, 192], [197, 576], [197, 192], [197, 192], [197, 768], [197, 192]
    boolean fused;

    @Setup(Level.Trial) public void setUp() {
        if (!epilogue.equals("fused") && !epilogue.equals("none")) throw new IllegalArgumentException("epilogue must be fused or none, got " + epilogue);
        fused = epilogue.equals("fused");
        cpu = new CpuBackend(new BackendOptions(threads, Precision.FP32));
        SplittableRandom r = new SplittableRandom(3);
        for (int l = 0; l < BLOCKS; l++) {
            wQkv[l] = Random.tensor(cpu, r, QKV, WIDTH); bQkv[l] = Random.tensor(cpu, r, QKV);
            wProj[l] = Random.tensor(cpu, r, WIDTH, WIDTH); bProj[l] = Random.tensor(cpu, r, WIDTH);
            w1[l] = Random.tensor(cpu, r, MLP, WIDTH); b1[l] = Random.tensor(cpu, r, MLP);
            w2[l] = Random.tensor(cpu, r, WIDTH, MLP); b2[l] = Random.tensor(cpu, r, WIDTH);
        }
        x = Random.tensor(cpu, r, TOKENS, WIDTH); attn = Random.tensor(cpu, r, TOKENS, WIDTH);
        qkv = cpu.zeros(TOKENS, QKV); y = cpu.zeros(TOKENS, WIDTH); hidden = cpu.zeros(TOKENS, MLP); out = cpu.zeros(TOKENS, WIDTH);
    }

    @TearDown(Level.Trial) public void tearDown() {
        for (Tensor[] ts : new Tensor[][]{wQkv, bQkv, wProj, bProj, w1, b1, w2, b2}) for (Tensor t : ts) t.close();
        for (Tensor t : new Tensor[]{x, qkv, attn, y, hidden, out}) t.close();
        cpu.close();
    }

    private Epilogue ep(Tensor bias, Tensor residual) { return fused ? new Epilogue(bias, residual) : Epilogue.NONE; }

    /** x stays the blocks' input throughout (the pass's values do not matter to its time); attn stands in for attention's output. */
    @Benchmark public Tensor pass() {
        for (int l = 0; l < BLOCKS; l++) {
            cpu.gemm(x, false, wQkv[l], true, qkv, 1f, 0f, ep(bQkv[l], null));
            cpu.gemm(attn, false, wProj[l], true, y, 1f, 0f, ep(bProj[l], x));
            cpu.gemm(y, false, w1[l], true, hidden, 1f, 0f, ep(b1[l], null));
            cpu.gemm(hidden, false, w2[l], true, out, 1f, 0f, ep(b2[l], y));
        }
        return out;
    }
}
