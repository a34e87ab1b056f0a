package dev.fovea.bench;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.tensor.Tensor;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Square SGEMM, ours against OpenBLAS on the same data, same thread count, in the same process: a time-based
 * warm-up of each, then repeats that alternate which runs first; medians of the repeats. The two results are
 * compared so that both sides provably computed the same product.
 *
 * <p>Each timed side starts after a pause: OpenBLAS's worker threads keep spinning for a while after a call returns
 * (the run prints how much CPU each side uses in the half second after a call), and on a small machine that
 * spinning takes a core from whatever runs next. Both sides get the same pause.
 */
public final class GemmBench {
    public record Result(int n, int threads, double fovea, double openblas, double relErr) {
        public double ratio() { return fovea / openblas; }

        /** The summary line: {@code gemm n=N threads=T fovea=X openblas=Y GFLOP/s ratio=Z}. */
        public String line() {
            return String.format("gemm n=%d threads=%d fovea=%.1f openblas=%s GFLOP/s ratio=%s", n, threads, fovea,
                    Double.isNaN(openblas) ? "n/a" : String.format("%.1f", openblas), Double.isNaN(openblas) ? "n/a" : String.format("%.3f", ratio()));
        }
    }

    private GemmBench() {}

    public static Result run(int n, int threads, int repeats, double warmupSeconds, double repeatSeconds, double settleSeconds, PrintStream log) {
        if (n < 1) throw new IllegalArgumentException("--n must be >= 1, got " + n);
        if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
        double flop = 2.0 * n * n * n;
        SplittableRandom r = new SplittableRandom(42);
        float[] a = new float[n * n], b = new float[n * n];
        for (int i = 0; i < a.length; i++) { a[i] = (float) (r.nextDouble() - 0.5); b[i] = (float) (r.nextDouble() - 0.5); }
        OpenBlas blas = OpenBlas.load().orElse(null);
        if (blas == null) log.println("note: " + OpenBlas.unavailableReason() + " - measuring Fovea alone");
        try (CpuBackend cpu = new CpuBackend(new BackendOptions(threads, Precision.FP32));
             Tensor ta = cpu.upload(a, n, n); Tensor tb = cpu.upload(b, n, n); Tensor tc = cpu.zeros(n, n);
             Arena arena = Arena.ofConfined()) {
            MemorySegment sa = arena.allocate(4L * n * n, 64), sb = arena.allocate(4L * n * n, 64), sc = arena.allocate(4L * n * n, 64);
            MemorySegment.copy(a, 0, sa, ValueLayout.JAVA_FLOAT, 0, a.length);
            MemorySegment.copy(b, 0, sb, ValueLayout.JAVA_FLOAT, 0, b.length);
            if (blas != null) blas.setThreads(threads);
            Runnable ours = () -> cpu.gemm(ta, false, tb, false, tc, 1f, 0f);
            Runnable theirs = blas == null ? null : () -> blas.sgemm(false, false, n, n, n, 1f, sa, n, sb, n, 0f, sc, n);
            log.printf("warming up (%.1f s each); %.2f s pause before each timed side so that neither measures against the other's idle threads%n", warmupSeconds, settleSeconds);
            rate(ours, flop, warmupSeconds);
            if (theirs != null) rate(theirs, flop, warmupSeconds);
            long settle = (long) (settleSeconds * 1000);
            // how much CPU each side's threads burn while nothing is asked of them (justifies the pause)
            double idleOurs = cpuWhileIdle(ours, 500), idleTheirs = theirs == null ? Double.NaN : cpuWhileIdle(theirs, 500);
            log.printf("CPU used by the process in the 0.5 s after a call: fovea %.2f s%s%n", idleOurs,
                    theirs == null ? "" : String.format(", openblas %.2f s", idleTheirs));
            List<Double> f = new ArrayList<>(), o = new ArrayList<>();
            for (int i = 0; i < repeats; i++) {
                double x, y = Double.NaN;
                if (theirs != null && i % 2 == 1) {
                    pause(settle); y = rate(theirs, flop, repeatSeconds);
                    pause(settle); x = rate(ours, flop, repeatSeconds);
                } else {
                    pause(settle); x = rate(ours, flop, repeatSeconds);
                    if (theirs != null) { pause(settle); y = rate(theirs, flop, repeatSeconds); }
                }
                f.add(x);
                if (theirs != null) o.add(y);
                log.printf("  repeat %d/%d: fovea %.1f GFLOP/s%s%n", i + 1, repeats, x, theirs == null ? "" : String.format(", openblas %.1f GFLOP/s", y));
            }
            double err = Double.NaN;
            if (blas != null) {
                float[] c1 = tc.toArray(), c2 = sc.toArray(ValueLayout.JAVA_FLOAT);
                double num = 0, den = 0;
                for (int i = 0; i < c1.length; i++) { double d = c1[i] - c2[i]; num += d * d; den += (double) c2[i] * c2[i]; }
                err = Math.sqrt(num / den);
                if (!(err < 1e-4)) throw new IllegalStateException("Fovea and OpenBLAS disagree: relative error " + err);
            }
            return new Result(n, threads, median(f), blas == null ? Double.NaN : median(o), err);
        }
    }

    /** Seconds of process CPU time in the {@code ms} after a few calls of op (JIT and GC threads included). */
    static double cpuWhileIdle(Runnable op, long ms) {
        for (int i = 0; i < 3; i++) op.run();
        long t0 = cpuNanos();
        pause(ms);
        return (cpuNanos() - t0) / 1e9;
    }

    private static long cpuNanos() {
        return ProcessHandle.current().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
    }

    static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** GFLOP/s of {@code op} run repeatedly for at least {@code seconds} (and at least once). */
    static double rate(Runnable op, double flop, double seconds) {
        long t0 = System.nanoTime(), limit = (long) (seconds * 1e9);
        int it = 0;
        long el;
        do { op.run(); it++; } while ((el = System.nanoTime() - t0) < limit);
        return flop * it / (el / 1e9) / 1e9;
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        int m = s.size();
        return m % 2 == 1 ? s.get(m / 2) : (s.get(m / 2 - 1) + s.get(m / 2)) / 2;
    }
}
