package dev.fovea.jmh;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.models.LeNet5;
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

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Convolution forward, backward-data and backward-filter at the sizes models use: LeNet-5's C1 and C3 at batch 64
 * and a ResNet-style 3×3, 64→64 channels at 56×56, batch 8. Score: ms per call. {@code -p table=true} zeroes the
 * weight blocks that LeNet-5's connection table leaves out, as its C3 trains (6→16 maps only).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class ConvBenchmark {
    @Param({"2"}) public int threads;
    /** "NxCxHxWxOxKxPADxSTRIDE" (x-separated: JMH splits -p values at commas). */
    @Param({"64x1x28x28x6x5x2x1", "64x6x14x14x16x5x0x1", "8x64x56x56x64x3x1x1"}) public String conv;
    @Param({"false"}) public boolean table;

    CpuBackend cpu;
    Tensor x, w, bias, y, dx, dw;
    Conv2dSpec spec;

    @Setup(Level.Trial) public void setUp() {
        cpu = new CpuBackend(new BackendOptions(threads, Precision.FP32));
        SplittableRandom r = new SplittableRandom(7);
        String[] p = conv.split("x");
        int n = Integer.parseInt(p[0]), c = Integer.parseInt(p[1]), h = Integer.parseInt(p[2]), wd = Integer.parseInt(p[3]);
        int oc = Integer.parseInt(p[4]), kk = Integer.parseInt(p[5]), pad = Integer.parseInt(p[6]), st = Integer.parseInt(p[7]);
        spec = Conv2dSpec.of(pad, st);
        x = Random.tensor(cpu, r, n, c, h, wd); w = Random.tensor(cpu, r, oc, c, kk, kk); bias = Random.tensor(cpu, r, oc);
        if (table) {
            if (c != 6 || oc != 16) throw new IllegalArgumentException("table=true needs LeNet-5's C3 channels, 6->16; got " + c + "->" + oc);
            float[] wv = cpu.download(w);
            boolean[][] t = LeNet5.c3Table();
            for (int o = 0; o < oc; o++)
                for (int ci = 0; ci < c; ci++)
                    if (!t[o][ci]) Arrays.fill(wv, (o * c + ci) * kk * kk, (o * c + ci + 1) * kk * kk, 0f);
            w.close();
            w = cpu.upload(wv, oc, c, kk, kk);
        }
        y = Random.tensor(cpu, r, spec.outputShape(x.shape(), w.shape()));
        dx = cpu.zeros(x.shape()); dw = cpu.zeros(w.shape());
    }

    @TearDown(Level.Trial) public void tearDown() { cpu.close(); }

    @Benchmark public Tensor forward() { cpu.conv2dForward(x, w, bias, y, spec); return y; }
    @Benchmark public Tensor backwardData() { cpu.conv2dBackwardData(y, w, dx, spec); return dx; }
    @Benchmark public Tensor backwardFilter() { cpu.conv2dBackwardFilter(x, y, dw, spec); return dw; }
}
