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
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Each vectorised routine against its scalar twin, and the vector math against the reference. */
class KernelTwinTest {
    @TestFactory List<DynamicTest> gemmAgainstItsScalarTwin() {
        return List.of(property("packed sgemm vs scalar twin with strided operands", 40, dims(r(1, 50), r(1, 70), r(1, 90), r(0, 3), r(0, 5)), d -> {
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
        }));
    }

    @Test void erfVectorMatchesScalarTwinAndReference() {
        float[] x = new float[4099];
        for (int i = 0; i < x.length; i++) x[i] = -6f + 12f * i / (x.length - 1);
        float[] vec = new float[x.length], sc = new float[x.length];
        var S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        int i = 0;
        for (; i < S.loopBound(x.length); i += S.length()) VMath.erf(jdk.incubator.vector.FloatVector.fromArray(S, x, i)).intoArray(vec, i);
        for (; i < x.length; i++) vec[i] = VMath.erf(x[i]);
        for (int j = 0; j < x.length; j++) sc[j] = VMath.erf(x[j]);
        for (int j = 0; j < x.length; j++) {
            assertEquals(sc[j], vec[j], 2e-7, "vector vs scalar erf at " + x[j]);
            assertEquals(dev.fovea.reference.Ref.erf(x[j]), sc[j], 3e-7, "erf at " + x[j]);
        }
    }
}
