package dev.fovea.jmh;

import dev.fovea.backend.Activation;
import dev.fovea.backend.BackendOptions;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The default ViT's ops at a training batch of 64 (`bench train --model vit`), the kernels alone, outputs
 * preallocated, on 2 threads: one block's packed attention (64×50 tokens, 4 heads of 16; forward and backward), its
 * MLP's GELU ([64, 50, 256]) and a layer norm (3,200 rows of 64). What `bench train --profile` shows per op includes
 * the outputs' allocation and the tape; the difference is the overhead. Score: ms per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class FashionVitOpsBenchmark {
    CpuBackend cpu;
    Tensor qkv, o, lse, dqkv;
    Tensor h, g, dh;
    Tensor ln, gamma, beta, lnOut, mean, rstd, lnDx, dgamma, dbeta;

    @Setup(Level.Trial) public void setUp() {
        cpu = new CpuBackend(new BackendOptions(2, Precision.FP32));
        SplittableRandom r = new SplittableRandom(7);
        qkv = Random.tensor(cpu, r, 64, 50, 3, 4, 16);
        o = cpu.zeros(64, 50, 4, 16); lse = cpu.zeros(64, 4, 50); dqkv = cpu.zeros(qkv.shape());
        cpu.attentionPackedForward(qkv, o, lse, 0.25f, false);
        h = Random.tensor(cpu, r, 64, 50, 256); g = cpu.zeros(h.shape()); dh = cpu.zeros(h.shape());
        cpu.activationForward(Activation.GELU, h, g);
        ln = Random.tensor(cpu, r, 64 * 50, 64); gamma = Random.tensor(cpu, r, 64); beta = Random.tensor(cpu, r, 64);
        lnOut = cpu.zeros(64 * 50, 64); mean = cpu.zeros(64 * 50); rstd = cpu.zeros(64 * 50);
        lnDx = cpu.zeros(64 * 50, 64); dgamma = cpu.zeros(64); dbeta = cpu.zeros(64);
        cpu.layerNormForward(ln, gamma, beta, 1e-6f, lnOut, mean, rstd);
    }

    @TearDown(Level.Trial) public void tearDown() { cpu.close(); }

    @Benchmark public Tensor attentionForward() { cpu.attentionPackedForward(qkv, o, lse, 0.25f, false); return o; }
    @Benchmark public Tensor attentionBackward() { cpu.attentionPackedBackward(qkv, o, lse, o, dqkv, 0.25f, false); return dqkv; }
    @Benchmark public Tensor geluForward() { cpu.activationForward(Activation.GELU, h, g); return g; }
    @Benchmark public Tensor geluBackward() { cpu.activationBackward(Activation.GELU, h, g, g, dh); return dh; }
    @Benchmark public Tensor layerNormForward() { cpu.layerNormForward(ln, gamma, beta, 1e-6f, lnOut, mean, rstd); return lnOut; }
    @Benchmark public Tensor layerNormBackward() { cpu.layerNormBackward(lnOut, ln, gamma, mean, rstd, lnDx, dgamma, dbeta); return lnDx; }
}
