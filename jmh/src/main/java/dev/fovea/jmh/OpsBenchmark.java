package dev.fovea.jmh;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Conv2dSpec;
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
 * The CPU backend's other hot ops at the sizes models use: LeNet-5's and a ResNet-style convolution (forward,
 * backward-data, backward-filter), ViT-Ti/16 attention (batch 8, 3 heads, 197 tokens, head dim 64, forward and
 * backward) and its layer norm (8·197 rows of 192). Score: ms per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class OpsBenchmark {
    @Param({"2"}) public int threads;
    /** conv: "N,C,H,W,O,K,pad,stride". */
    @Param({"64,1,28,28,6,5,2,1", "64,6,14,14,16,5,0,1", "8,64,56,56,64,3,1,1"}) public String conv;

    CpuBackend cpu;
    Tensor x, w, bias, y, dx, dw;
    Conv2dSpec spec;
    Tensor q, k, v, o, lse, dq, dk, dv;
    Tensor ln, gamma, beta, lnOut, mean, rstd, lnDx, dgamma, dbeta;

    Tensor rand(SplittableRandom r, int... shape) {
        float[] d = new float[(int) dev.fovea.tensor.Shape.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = (float) (r.nextDouble() - 0.5);
        return cpu.upload(d, shape);
    }

    @Setup(Level.Trial) public void setUp() {
        cpu = new CpuBackend(new BackendOptions(threads, Precision.FP32));
        SplittableRandom r = new SplittableRandom(7);
        String[] p = conv.split(",");
        int n = Integer.parseInt(p[0]), c = Integer.parseInt(p[1]), h = Integer.parseInt(p[2]), wd = Integer.parseInt(p[3]);
        int oc = Integer.parseInt(p[4]), kk = Integer.parseInt(p[5]), pad = Integer.parseInt(p[6]), st = Integer.parseInt(p[7]);
        spec = Conv2dSpec.of(pad, st);
        x = rand(r, n, c, h, wd); w = rand(r, oc, c, kk, kk); bias = rand(r, oc);
        int[] ys = spec.outputShape(x.shape(), w.shape());
        y = rand(r, ys); dx = cpu.zeros(x.shape()); dw = cpu.zeros(w.shape());
        q = rand(r, 8, 3, 197, 64); k = rand(r, 8, 3, 197, 64); v = rand(r, 8, 3, 197, 64);
        o = cpu.zeros(8, 3, 197, 64); lse = cpu.zeros(8, 3, 197);
        dq = cpu.zeros(q.shape()); dk = cpu.zeros(k.shape()); dv = cpu.zeros(v.shape());
        cpu.attentionForward(q, k, v, o, lse, 0.125f, false);
        ln = rand(r, 8 * 197, 192); gamma = rand(r, 192); beta = rand(r, 192); lnOut = cpu.zeros(8 * 197, 192);
        mean = cpu.zeros(8 * 197); rstd = cpu.zeros(8 * 197); lnDx = cpu.zeros(8 * 197, 192); dgamma = cpu.zeros(192); dbeta = cpu.zeros(192);
        cpu.layerNormForward(ln, gamma, beta, 1e-6f, lnOut, mean, rstd);
    }

    @TearDown(Level.Trial) public void tearDown() { cpu.close(); }

    @Benchmark public Tensor convForward() { cpu.conv2dForward(x, w, bias, y, spec); return y; }
    @Benchmark public Tensor convBackwardData() { cpu.conv2dBackwardData(y, w, dx, spec); return dx; }
    @Benchmark public Tensor convBackwardFilter() { cpu.conv2dBackwardFilter(x, y, dw, spec); return dw; }
    @Benchmark public Tensor attentionForward() { cpu.attentionForward(q, k, v, o, lse, 0.125f, false); return o; }
    @Benchmark public Tensor attentionBackward() { cpu.attentionBackward(q, k, v, o, lse, o, dq, dk, dv, 0.125f, false); return dq; }
    @Benchmark public Tensor layerNormForward() { cpu.layerNormForward(ln, gamma, beta, 1e-6f, lnOut, mean, rstd); return lnOut; }
    @Benchmark public Tensor layerNormBackward() { cpu.layerNormBackward(lnOut, ln, gamma, mean, rstd, lnDx, dgamma, dbeta); return lnDx; }
}
