package dev.fovea.cpu;

import dev.fovea.testing.Bed;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.SplittableRandom;

import static dev.fovea.testing.Bed.dims;
import static dev.fovea.testing.Bed.property;
import static dev.fovea.testing.Bed.r;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Each vectorised routine against its scalar twin, and the vector math against the reference. */
class KernelTwinTest {
    @TestFactory List<DynamicTest> gemmAgainstItsScalarTwin() {
        return List.of(gemmProperty("packed sgemm vs scalar twin with strided operands", r(1, 50)),
                gemmProperty("sgemm of a few rows (unpacked, a decoder's single tokens) vs scalar twin", r(1, Gemm.FEW_ROWS)));
    }

    private static DynamicTest gemmProperty(String name, int[] rows) {
        return property(name, 40, dims(rows, r(1, 300), r(1, 200), r(0, 3), r(0, 5)), d -> {
            int m = d[0], n = d[1], k = d[2], pad = d[4];
            boolean ta = (d[3] & 1) == 1, tb = (d[3] & 2) == 2;
            SplittableRandom r = Bed.rng(d);
            int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
            float[] a = Bed.random(r, (ta ? k : m) * lda + 3), b = Bed.random(r, (tb ? n : k) * ldb + 3), c = Bed.random(r, m * ldc + 3), c2 = c.clone();
            try (Parallel par = new Parallel(2)) {
                Gemm.sgemm(par, ta, tb, m, n, k, 0.5f, a, 3, lda, b, 3, ldb, 2f, c, 3, ldc);
            }
            Gemm.scalar(ta, tb, m, n, k, 0.5f, a, 3, lda, b, 3, ldb, 2f, c2, 3, ldc);
            double e = Bed.relErr(c, c2);
            if (e > 1e-5) throw new AssertionError("relative error " + e);
            for (int i = 0; i < m; i++) for (int j = n; j < ldc && i * ldc + j + 3 < c.length; j++)
                assertEquals(c2[3 + i * ldc + j], c[3 + i * ldc + j], "padding columns untouched");
        });
    }

    /** Packing a transposed B (a linear layer's weight): its 16×16 register blocks and scalar edges against the definition. */
    @TestFactory List<DynamicTest> transposedBPacksAsDefined() {
        return List.of(property("packB of a transposed B vs its definition", 60, dims(r(1, 90), r(1, 100), r(0, 5), r(0, 40)), d -> {
            int kc = d[0], nc = d[1], pad = d[2], pc = d[3], ldb = pc + kc + pad, j0 = 2, bo = 3, dst = 5;
            SplittableRandom r = Bed.rng(d);
            float[] b = Bed.random(r, bo + (j0 + nc) * ldb);
            int panels = (nc + Gemm.NR - 1) / Gemm.NR;
            float[] bp = Bed.random(r, dst + panels * Gemm.NR * kc + 7), want = bp.clone();
            for (int q = 0; q < panels; q++)
                for (int p = 0; p < kc; p++)
                    for (int x = 0; x < Gemm.NR; x++) {
                        int j = q * Gemm.NR + x;
                        want[dst + q * Gemm.NR * kc + p * Gemm.NR + x] = j < nc ? b[bo + (j0 + j) * ldb + pc + p] : 0f;
                    }
            Gemm.packB(true, b, bo, ldb, pc, kc, j0, nc, bp, dst);
            assertArrayEquals(want, bp, "kc " + kc + " nc " + nc);
        }));
    }

    @Test void erfVectorMatchesScalarTwinAndReference() {
        // a dense grid over both branches, the split (|x| = 0.921875) and the clamp (3.925), and past them
        float[] x = new float[4099];
        for (int i = 0; i < x.length; i++) x[i] = -6f + 12f * i / (x.length - 1);
        float[] vec = new float[x.length];
        var S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        int i = 0;
        for (; i < S.loopBound(x.length); i += S.length()) VMath.erf(jdk.incubator.vector.FloatVector.fromArray(S, x, i)).intoArray(vec, i);
        for (; i < x.length; i++) vec[i] = VMath.erf(x[i]);
        for (int j = 0; j < x.length; j++) {
            float sc = VMath.erf(x[j]);
            assertEquals(Float.floatToIntBits(sc), Float.floatToIntBits(vec[j]), "vector vs scalar erf at " + x[j]);
            // within an ulp of 1 (faithful rounding; measured 5.7e-8 at most)
            assertEquals(dev.fovea.reference.Ref.erf(x[j]), sc, 1.2e-7, "erf at " + x[j]);
        }
        twin("erf", VMath::erf, v -> VMath.erf((float) v), dev.fovea.reference.Ref::erf, -4.5f, 4.5f, 2.5e-7);
        assertEquals(Float.NaN, VMath.erf(Float.NaN));
        assertEquals(1f, VMath.erf(Float.POSITIVE_INFINITY));
        assertEquals(-1f, VMath.erf(Float.NEGATIVE_INFINITY));
    }

    /** A vector routine and its scalar twin over many inputs: bit-for-bit equal, and close to a double reference. */
    static void twin(String name, java.util.function.UnaryOperator<jdk.incubator.vector.FloatVector> vector,
                     java.util.function.DoubleUnaryOperator scalar, java.util.function.DoubleUnaryOperator exact, float lo, float hi, double relTol) {
        var S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        float[] x = new float[S.length() * 2000];
        SplittableRandom r = new SplittableRandom(name.hashCode());
        for (int i = 0; i < x.length; i++) x[i] = i < 8 ? new float[]{0f, -0f, lo, hi, 1e-6f, -1e-6f, 0.625f, -0.625f}[i] : lo + (hi - lo) * r.nextFloat();
        float[] vec = new float[x.length];
        for (int i = 0; i < x.length; i += S.length()) vector.apply(jdk.incubator.vector.FloatVector.fromArray(S, x, i)).intoArray(vec, i);
        for (int i = 0; i < x.length; i++) {
            float sc = (float) scalar.applyAsDouble(x[i]);
            assertEquals(Float.floatToIntBits(sc), Float.floatToIntBits(vec[i]), name + " vector vs scalar at " + x[i] + ": " + vec[i] + " vs " + sc);
            double want = exact.applyAsDouble(x[i]);
            double err = want == 0 ? Math.abs(sc) : Math.abs(sc - want) / Math.abs(want);
            if (err > relTol) throw new AssertionError(name + "(" + x[i] + ") = " + sc + ", expected " + want + " (relative error " + err + ")");
        }
    }

    @Test void expTanhSigmoidTwinsAgreeBitForBitAndWithMath() {
        twin("exp", VMath::exp, v -> VMath.exp((float) v), Math::exp, -87f, 88f, 3e-7);
        twin("tanh", VMath::tanh, v -> VMath.tanh((float) v), Math::tanh, -12f, 12f, 3e-7);
        twin("sigmoid", VMath::sigmoid, v -> VMath.sigmoid((float) v), v -> 1 / (1 + Math.exp(-v)), -80f, 30f, 5e-7);
        twin("expNoOverflow", VMath::expNoOverflow, v -> VMath.expNoOverflow((float) v), Math::exp, -87f, 88f, 3e-7);
        for (float x : new float[]{Float.NEGATIVE_INFINITY, -100f, -87.5f}) {
            assertEquals(0f, VMath.expNoOverflow(x), "expNoOverflow(" + x + ")");
            var v = jdk.incubator.vector.FloatVector.broadcast(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED, x);
            assertEquals(0f, VMath.expNoOverflow(v).lane(0), "vector expNoOverflow(" + x + ")");
        }
        assertEquals(Float.NaN, VMath.expNoOverflow(Float.NaN));
        assertEquals(Float.NaN, VMath.expNoOverflow(jdk.incubator.vector.FloatVector.broadcast(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED, Float.NaN)).lane(0));
        assertEquals(0f, VMath.exp(-100f));
        assertEquals(Float.POSITIVE_INFINITY, VMath.exp(100f));
        assertEquals(Float.NaN, VMath.exp(Float.NaN));
        assertEquals(1f, VMath.tanh(50f));
        assertEquals(-1f, VMath.tanh(-50f));
    }
}
