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
 * it): the micro-kernel alone with its operands in L1 (one call: 2·MR·NR·KC flops), packing all of a 1024×1024 A
 * in MC×KC slices into an L2-sized buffer versus into one buffer of A's size, and packing B's 1024×512 blocks.
 * Score: µs per call.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmPartsBenchmark {
    static final int N = 1024;
    float[] a, b, ap, apBig, bp, kernelA, kernelB, tile;

    @Setup(Level.Trial) public void setUp() {
        SplittableRandom r = new SplittableRandom(3);
        a = new float[N * N];
        b = new float[N * N];
        for (int i = 0; i < a.length; i++) { a[i] = (float) r.nextDouble(); b[i] = (float) r.nextDouble(); }
        ap = new float[Gemm.MC * Gemm.KC];
        apBig = new float[(N / Gemm.MC + 1) * Gemm.MC * N];
        bp = new float[Gemm.NC * N];
        kernelA = new float[Gemm.MR * Gemm.KC];
        kernelB = new float[Gemm.NR * Gemm.KC];
        tile = new float[Gemm.MR * Gemm.NR];
        for (int i = 0; i < kernelA.length; i++) kernelA[i] = (float) r.nextDouble();
        for (int i = 0; i < kernelB.length; i++) kernelB[i] = (float) r.nextDouble();
    }

    /** One micro-kernel call, everything in L1: 2·12·32·256 = 196,608 flops. */
    @Benchmark public float[] kernelInL1() {
        Gemm.kernelK(Gemm.KC, kernelA, 0, Gemm.MR, kernelB, 0, tile, 0, Gemm.NR);
        return tile;
    }

    /** All of A, slice by slice, each into the same L2-sized buffer (as the GEMM does). */
    @Benchmark public float[] packAIntoL2SizedBuffer() {
        for (int ic = 0; ic < N; ic += Gemm.MC)
            for (int pc = 0; pc < N; pc += Gemm.KC)
                Gemm.packA(false, 1f, a, 0, N, ic, Math.min(Gemm.MC, N - ic), pc, Gemm.KC, ap, 0);
        return ap;
    }

    /** All of A, slice by slice, into one buffer of A's size (what a pack-once design would do). */
    @Benchmark public float[] packAIntoOneBigBuffer() {
        for (int ic = 0; ic < N; ic += Gemm.MC)
            for (int pc = 0; pc < N; pc += Gemm.KC)
                Gemm.packA(false, 1f, a, 0, N, ic, Math.min(Gemm.MC, N - ic), pc, Gemm.KC, apBig, ic * N + pc * Gemm.MC);
        return apBig;
    }

    /** All of B in NC-wide blocks of all K, as one thread of the GEMM packs its share. */
    @Benchmark public float[] packB() {
        for (int jc = 0; jc < N; jc += Gemm.NC)
            for (int pc = 0; pc < N; pc += Gemm.KC)
                Gemm.packB(false, b, 0, N, pc, Gemm.KC, jc, Math.min(Gemm.NC, N - jc), bp, pc * Gemm.NC);
        return bp;
    }
}
