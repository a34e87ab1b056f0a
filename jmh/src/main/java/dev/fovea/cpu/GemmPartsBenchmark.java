package dev.fovea.cpu;

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
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The GEMM's parts on one thread, to see where a 1024³ product's time goes (lives in the kernel's package to reach
 * it): the micro-kernel alone with its operands in L1 (one call: 2·MR·NR·KC flops); one A panel against all the
 * B panels of a packed KC×NC slice held in L2, as the GEMM's inner loop runs; packing all of a 1024×1024 A panel
 * by panel and all of a 1024×1024 B slice by slice, as one thread of the GEMM does. Score: µs per call.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmPartsBenchmark {
    static final int N = 1024;
    float[] a, b, ap, bp, c, kernelA, kernelB, tile;

    @Setup(Level.Trial) public void setUp() {
        SplittableRandom r = new SplittableRandom(3);
        a = new float[N * N];
        b = new float[N * N];
        c = new float[Gemm.MR * Gemm.NC];
        for (int i = 0; i < a.length; i++) { a[i] = (float) r.nextDouble(); b[i] = (float) r.nextDouble(); }
        ap = new float[Gemm.MR * Gemm.KC + Gemm.PACK_A_SLACK];
        bp = new float[Gemm.KC * Gemm.NC];
        for (int i = 0; i < bp.length; i++) bp[i] = (float) r.nextDouble();
        kernelA = new float[Gemm.MR * Gemm.KC];
        kernelB = new float[Gemm.NR * Gemm.KC];
        tile = new float[Gemm.MR * Gemm.NR];
        for (int i = 0; i < kernelA.length; i++) kernelA[i] = (float) r.nextDouble();
        for (int i = 0; i < kernelB.length; i++) kernelB[i] = (float) r.nextDouble();
    }

    /** One micro-kernel call, everything in L1: 2·12·32·256 = 196,608 flops. */
    @Benchmark public float[] kernelInL1() {
        Gemm.kernelK(Gemm.KC, kernelA, 0, kernelB, 0, tile, 0, Gemm.NR, true);
        return tile;
    }

    /** One A panel (in L1) against every B panel of a KC×NC slice (in L2): NC/NR kernel calls. */
    @Benchmark public float[] panelAgainstSliceInL2() {
        for (int j = 0; j < Gemm.NC; j += Gemm.NR) Gemm.kernelK(Gemm.KC, kernelA, 0, bp, j * Gemm.KC, c, j, Gemm.NC, true);
        return c;
    }

    /** All of A, one MR×KC panel at a time into the same small buffer (as the GEMM does). */
    @Benchmark public float[] packA() {
        for (int pc = 0; pc < N; pc += Gemm.KC)
            for (int i = 0; i < N; i += Gemm.MR)
                Gemm.packA(false, 1f, a, 0, N, i, Math.min(Gemm.MR, N - i), pc, Gemm.KC, ap, 0);
        return ap;
    }

    /** All of B, one KC×NC slice at a time into the same L2-sized buffer (as one thread of the GEMM does). */
    @Benchmark public float[] packB() {
        for (int jc = 0; jc < N; jc += Gemm.NC)
            for (int pc = 0; pc < N; pc += Gemm.KC)
                Gemm.packB(false, b, 0, N, pc, Gemm.KC, jc, Math.min(Gemm.NC, N - jc), bp, 0);
        return bp;
    }
}
