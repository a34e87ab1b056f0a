package dev.fovea.jmh;

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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * A ViT-Ti/16 block's attention (batch 8 unless {@code -p batch=}, 3 heads, 197 tokens, head dim 64; forward and
 * backward, and the forward on the packed qkv projection [B, 197, 3, 3, 64] that the model runs) and its layer norm
 * (B·197 rows of 192). Score: ms per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TransformerOpsBenchmark {
    @Param({"8"}) public int batch;

    CpuBackend cpu;
    Tensor q, k, v, o, lse, dq, dk, dv, qkv, packedOut;
    Tensor ln, gamma, beta, lnOut, mean, rstd, lnDx, dgamma, dbeta;

    @Setup(Level.Trial) public void setUp() {
        cpu = new CpuBackend(new BackendOptions(2, Precision.FP32));
        SplittableRandom r = new SplittableRandom(7);
        q = Random.tensor(cpu, r, batch, 3, 197, 64); k = Random.tensor(cpu, r, batch, 3, 197, 64); v = Random.tensor(cpu, r, batch, 3, 197, 64);
        o = cpu.zeros(batch, 3, 197, 64); lse = cpu.zeros(batch, 3, 197);
        dq = cpu.zeros(q.shape()); dk = cpu.zeros(k.shape()); dv = cpu.zeros(v.shape());
        cpu.attentionForward(q, k, v, o, lse, 0.125f, false);
        qkv = Random.tensor(cpu, r, batch, 197, 3, 3, 64); packedOut = cpu.zeros(batch, 197, 3, 64);
        ln = Random.tensor(cpu, r, batch * 197, 192); gamma = Random.tensor(cpu, r, 192); beta = Random.tensor(cpu, r, 192);
        lnOut = cpu.zeros(batch * 197, 192); mean = cpu.zeros(batch * 197); rstd = cpu.zeros(batch * 197);
        lnDx = cpu.zeros(batch * 197, 192); dgamma = cpu.zeros(192); dbeta = cpu.zeros(192);
        cpu.layerNormForward(ln, gamma, beta, 1e-6f, lnOut, mean, rstd);
    }

    @TearDown(Level.Trial) public void tearDown() { cpu.close(); }

    @Benchmark public Tensor attentionForward() { cpu.attentionForward(q, k, v, o, lse, 0.125f, false); return o; }
    @Benchmark public Tensor attentionPackedForward() { cpu.attentionPackedForward(qkv, packedOut, lse, 0.125f, false); return packedOut; }
    @Benchmark public Tensor attentionBackward() { cpu.attentionBackward(q, k, v, o, lse, o, dq, dk, dv, 0.125f, false); return dq; }
    @Benchmark public Tensor layerNormForward() { cpu.layerNormForward(ln, gamma, beta, 1e-6f, lnOut, mean, rstd); return lnOut; }
    @Benchmark public Tensor layerNormBackward() { cpu.layerNormBackward(lnOut, ln, gamma, mean, rstd, lnDx, dgamma, dbeta); return lnDx; }
}
