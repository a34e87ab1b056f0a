package dev.fovea.testing;

import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

/** Shared test plumbing: shape generators, seeded data, relative errors, and tensors mirrored on two backends. */
public final class Bed {
    private Bed() {}

    /** The same values as tensors on the backend under test and on the control. */
    public record Pair(Tensor under, Tensor control) implements AutoCloseable {
        @Override public void close() { under.close(); control.close(); }
    }

    /** Builds pairs on two backends and closes them all at the end. */
    public static final class Mirror implements AutoCloseable {
        public final Backend under, control;
        private final List<Pair> live = new ArrayList<>();

        public Mirror(Backend under, Backend control) { this.under = under; this.control = control; }

        public Pair of(float[] data, int... shape) {
            Pair p = new Pair(under.upload(data, shape), control.upload(data, shape));
            live.add(p);
            return p;
        }

        public Pair zeros(int... shape) { return of(new float[(int) dev.fovea.tensor.Shape.numel(shape)], shape); }

        public Pair random(SplittableRandom r, int... shape) { return of(Bed.random(r, (int) dev.fovea.tensor.Shape.numel(shape)), shape); }

        @Override public void close() { live.forEach(Pair::close); }
    }

    public static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    public static SplittableRandom rng(int... dims) { return new SplittableRandom(Arrays.hashCode(dims) * 0x9E3779B97F4A7C15L); }

    /**
     * ‖a − ref‖ / ‖ref‖ in double. A reference that is (nearly) zero everywhere (an analytic zero, such as the
     * gradient of a softmax over a single key) would turn float32 rounding into a huge ratio, so the denominator is
     * at least 1e-2·√n: with a tolerance of 1e-5 the comparison is then absolute at 1e-7 per element, float32's
     * rounding of the O(1) values every generated input has.
     */
    public static double relErr(float[] a, float[] ref) {
        if (a.length != ref.length) throw new AssertionError("lengths differ: " + a.length + " vs " + ref.length);
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-2 * Math.sqrt(a.length));
    }

    public static double relErr(double[] a, double[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** Asserts the two sides of a pair agree within a relative error. */
    public static void close(Pair p, double tol, String what) {
        float[] a = p.under().toArray(), b = p.control().toArray();
        double e = relErr(a, b);
        for (float v : a) if (!Float.isFinite(v)) throw new AssertionError(what + ": non-finite value in " + Arrays.toString(p.under().shape()));
        if (!(e <= tol)) throw new AssertionError(what + " " + Arrays.toString(p.under().shape()) + ": relative error " + e + " > " + tol
                + "; got " + head(a) + ", expected " + head(b));
    }

    private static String head(float[] v) {
        return Arrays.toString(Arrays.copyOf(v, Math.min(v.length, 6))) + (v.length > 6 ? "..." : "");
    }

    /** A generator of int arrays, one integer per [lo, hi] range given. */
    public static Gen<int[]> dims(int[]... ranges) {
        Gen<int[]> g = Generate.constant(new int[0]);
        for (int[] r : ranges) g = g.zip(integers().between(r[0], r[1]), (arr, v) -> {
            int[] out = Arrays.copyOf(arr, arr.length + 1);
            out[arr.length] = v;
            return out;
        });
        return g.describedAs(Arrays::toString);
    }

    public static int[] r(int lo, int hi) { return new int[]{lo, hi}; }

    /** A dynamic test that checks a property over {@code examples} generated shapes (fixed seed: failures reproduce). */
    public static DynamicTest property(String name, int examples, Gen<int[]> gen, Consumer<int[]> check) {
        return property(name, examples, gen, d -> true, check);
    }

    /**
     * Over the generated shapes for which {@code applies} holds (the others are discarded, not counted as checked):
     * {@code examples} of them are checked.
     */
    public static DynamicTest property(String name, int examples, Gen<int[]> gen, java.util.function.Predicate<int[]> applies, Consumer<int[]> check) {
        return DynamicTest.dynamicTest(name, () -> qt().withFixedSeed(name.hashCode()).withExamples(examples).withShrinkCycles(50)
                .forAll(gen).assuming(applies).checkAssert(check));
    }

    /**
     * A PyTorch/timm fixture's weights alone (no metadata, no io.* or grad.* tensors) as {@code dir/model.safetensors}:
     * a model folder as timm and the Hugging Face hub save it, before its config.json.
     */
    public static java.nio.file.Path hubFolder(java.nio.file.Path dir, java.nio.file.Path fixture) throws java.io.IOException {
        java.nio.file.Files.createDirectories(dir);
        try (dev.fovea.io.SafetensorsFile f = dev.fovea.io.SafetensorsFile.open(fixture)) {
            dev.fovea.io.SafetensorsWriter w = new dev.fovea.io.SafetensorsWriter();
            for (String n : f.names()) if (!n.startsWith("io.") && !n.startsWith("grad.")) w.putFloats(n, f.floats(n), f.entry(n).shape());
            w.write(dir.resolve("model.safetensors"));
        }
        return dir;
    }

    /**
     * Computes {@code answer(i)} for i in [0, n) on this thread, then on four threads at once, each asking for
     * {@code rounds} of them in its own order: every answer must equal the single-thread one, bit for bit.
     */
    public static void sameOnFourThreads(int n, int rounds, java.util.function.IntFunction<float[]> answer) throws Exception {
        float[][] alone = new float[n][];
        for (int i = 0; i < n; i++) alone[i] = answer.apply(i);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<?>> jobs = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int worker = w;
                jobs.add(pool.submit(() -> {
                    for (int k = 0; k < rounds; k++) {
                        int i = (worker * 3 + k) % n;
                        org.junit.jupiter.api.Assertions.assertArrayEquals(alone[i], answer.apply(i), "thread " + worker + ", input " + i);
                    }
                    return null;
                }));
            }
            for (var j : jobs) j.get();
        } finally {
            pool.shutdownNow();
        }
    }
}
