package dev.fovea.autograd;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The probabilities the recorder takes from the CPU backend's fused attention ops (from each query's log-sum-exp),
 * against softmax(q·kᵀ/√d) computed by the reference backend's GEMM and softmax: self-attention on a packed qkv,
 * causal and not, and cross-attention with more keys than queries.
 */
class AttentionRecorderTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    static final ReferenceBackend REF = new ReferenceBackend();

    @AfterAll static void close() { CPU.close(); REF.close(); }

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** softmax(scale·q·kᵀ) per (b, h) slice on the reference backend: q [B,H,T,D], k [B,H,S,D] → [B,H,T,S]. */
    static float[] reference(float[] q, float[] k, int bh, int t, int s, int d, float scale, boolean causal) {
        float[] out = new float[bh * t * s];
        for (int i = 0; i < bh; i++)
            try (Tensor qi = REF.upload(java.util.Arrays.copyOfRange(q, i * t * d, (i + 1) * t * d), t, d);
                 Tensor ki = REF.upload(java.util.Arrays.copyOfRange(k, i * s * d, (i + 1) * s * d), s, d);
                 Tensor sc = REF.zeros(t, s); Tensor p = REF.zeros(t, s)) {
                REF.gemm(qi, false, ki, true, sc, scale, 0f);
                REF.softmaxForward(sc, p, causal);
                System.arraycopy(p.toArray(), 0, out, i * t * s, t * s);
            }
        return out;
    }

    static void close(float[] want, AttentionRecorder.Map got, String what) {
        assertEquals(want.length, got.probs().length, what);
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got.probs()[i]));
        assertTrue(worst < 2e-6, what + ": largest difference from the reference " + worst);
        for (int r = 0; r < want.length / got.keys(); r++) {
            double sum = 0;
            for (int j = 0; j < got.keys(); j++) sum += got.probs()[r * got.keys() + j];
            assertEquals(1.0, sum, 1e-5, what + ": row " + r + " sums to one");
        }
    }

    @Test void packedSelfAttentionCausalAndNot() {
        int b = 2, t = 7, h = 3, d = 8;
        float scale = (float) (1 / Math.sqrt(d));
        float[] qkv = random(b * t * 3 * h * d, 11);
        float[][] qk = AttentionRecorder.unpack(qkv, b, t, h, d);
        for (boolean causal : new boolean[]{false, true})
            try (AttentionRecorder rec = AttentionRecorder.start(); Tape tape = Tape.inference(CPU)) {
                tape.attentionPacked(tape.constant(CPU.upload(qkv, b, t, 3, h, d)), scale, causal);
                assertEquals(1, rec.maps().size());
                AttentionRecorder.Map m = rec.maps().getFirst();
                assertEquals("self", m.site());
                close(reference(qk[0], qk[1], b * h, t, t, d, scale, causal), m, causal ? "causal" : "full");
            }
    }

    @Test void crossAttentionOverMoreKeysThanQueries() {
        int b = 2, h = 2, t = 3, s = 11, d = 4;
        float[] q = random(b * h * t * d, 5), k = random(b * h * s * d, 6), v = random(b * h * s * d, 7);
        try (AttentionRecorder rec = AttentionRecorder.start(); Tape tape = Tape.inference(CPU)) {
            AttentionRecorder.at("cross", () -> tape.attention(tape.constant(CPU.upload(q, b, h, t, d)), tape.constant(CPU.upload(k, b, h, s, d)),
                    tape.constant(CPU.upload(v, b, h, s, d)), 0.5f, false));
            AttentionRecorder.Map m = rec.maps().getFirst();
            assertEquals("cross", m.site());
            assertEquals(s, m.keys());
            close(reference(q, k, b * h, t, s, d, 0.5f, false), m, "cross");
        }
    }

    @Test void nothingIsRecordedWithoutARecorderAndOneAtATime() {
        try (Tape tape = Tape.inference(CPU)) {
            tape.attentionPacked(tape.constant(CPU.upload(random(1 * 2 * 3 * 1 * 4, 1), 1, 2, 3, 1, 4)), 0.5f, false);
        }
        try (AttentionRecorder rec = AttentionRecorder.start()) {
            assertEquals(0, rec.maps().size());
            assertThrows(IllegalStateException.class, AttentionRecorder::start);
        }
    }
}
