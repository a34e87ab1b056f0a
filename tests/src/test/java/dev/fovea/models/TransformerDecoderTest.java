package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import dev.fovea.testing.Bed;
import dev.fovea.text.Vocabulary;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The captioning decoder: cached against uncached decoding, beam search, the CPU against the reference, the vocabulary. */
class TransformerDecoderTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    static final TransformerDecoder.Config CFG = new TransformerDecoder.Config(13, 12, 16, 2, 2, true);

    /** A decoder whose logits are far from uniform (scaled head), so that decoding is not a coin toss. */
    static TransformerDecoder decoder(Backend be, long seed) {
        TransformerDecoder d = new TransformerDecoder(be, CFG, seed);
        be.scale(d.head.weight.value(), 40f, d.head.weight.value());
        return d;
    }

    @Test void cachedDecodingGivesTheSameTokensAsRecomputingThePrefix() {
        for (long seed = 1; seed <= 5; seed++) {
            try (TransformerDecoder d = decoder(CPU, seed); Tensor mem = CPU.upload(Bed.random(new SplittableRandom(seed), 3 * 5 * 16), 3, 5, 16)) {
                int[][] plain = Decoding.greedy(d, CPU, mem, Vocabulary.BOS, Vocabulary.EOS, 12, false);
                int[][] cached = Decoding.greedy(d, CPU, mem, Vocabulary.BOS, Vocabulary.EOS, 12, true);
                for (int i = 0; i < 3; i++) assertArrayEquals(plain[i], cached[i], "seed " + seed + " sequence " + i);
                int longest = 0;
                for (int[] s : plain) longest = Math.max(longest, s.length);
                assertTrue(longest >= 3, "decoding should run a few steps to mean anything: " + longest);
                for (int i = 0; i < 3; i++) {
                    try (Tensor one = slice(mem, i)) {
                        int[] b1 = Decoding.beam(d, CPU, one, Vocabulary.BOS, Vocabulary.EOS, 12, 1, true);
                        assertArrayEquals(plain[i], b1, "beam width 1 is greedy, seed " + seed);
                        assertArrayEquals(Decoding.beam(d, CPU, one, Vocabulary.BOS, Vocabulary.EOS, 12, 3, false),
                                Decoding.beam(d, CPU, one, Vocabulary.BOS, Vocabulary.EOS, 12, 3, true), "beam 3 cached and not, seed " + seed);
                    }
                }
            }
        }
    }

    /** Beam search finds a sequence at least as probable as greedy decoding's. */
    @Test void beamSearchIsAtLeastAsProbableAsGreedy() {
        try (TransformerDecoder d = decoder(CPU, 7); Tensor mem = CPU.upload(Bed.random(new SplittableRandom(7), 5 * 16), 1, 5, 16)) {
            int[] greedy = Decoding.greedy(d, CPU, mem, Vocabulary.BOS, Vocabulary.EOS, 12, true)[0];
            int[] beam = Decoding.beam(d, CPU, mem, Vocabulary.BOS, Vocabulary.EOS, 12, 4, true);
            assertTrue(logProb(d, mem, beam) >= logProb(d, mem, greedy) - 1e-4, logProb(d, mem, beam) + " < " + logProb(d, mem, greedy));
        }
    }

    /** log p(tokens, eos | bos) under teacher forcing. */
    static double logProb(TransformerDecoder d, Tensor mem, int[] tokens) {
        int len = tokens.length + 1;
        float[] ids = new float[len];
        ids[0] = Vocabulary.BOS;
        for (int i = 0; i < tokens.length; i++) ids[i + 1] = tokens[i];
        try (Tape t = Tape.inference(CPU)) {
            float[] lg = d.logits(t, ids, 1, len, t.constantView(mem)).value().toArray();
            double total = 0;
            int v = CFG.vocab();
            for (int p = 0; p < len; p++) {
                int next = p < tokens.length ? tokens[p] : Vocabulary.EOS;
                double m = Double.NEGATIVE_INFINITY, s = 0;
                for (int j = 0; j < v; j++) m = Math.max(m, lg[p * v + j]);
                for (int j = 0; j < v; j++) s += Math.exp(lg[p * v + j] - m);
                total += lg[p * v + next] - m - Math.log(s);
            }
            return total;
        }
    }

    static Tensor slice(Tensor mem, int i) {
        int rest = mem.numel() / mem.dim(0);
        float[] all = mem.toArray();
        return CPU.upload(java.util.Arrays.copyOfRange(all, i * rest, (i + 1) * rest), 1, mem.dim(1), mem.dim(2));
    }

    @Test void teacherForcingAgreesWithTheReferenceForwardAndBackward() {
        Backend ref = new ReferenceBackend();
        float[] mem = Bed.random(new SplittableRandom(3), 2 * 4 * 16);
        float[] ids = {1, 5, 5, 9, 2, 1, 12, 4, 3, 2};
        float[][] out = new float[2][], grads = new float[2][];
        Backend[] bes = {CPU, ref};
        for (int k = 0; k < 2; k++) {
            try (TransformerDecoder d = new TransformerDecoder(bes[k], CFG, 11); Tape t = Tape.training(bes[k])) {
                Var m = t.leaf(bes[k].upload(mem, 2, 4, 16));
                Var lg = d.logits(t, ids, 2, 5, m);
                Var loss = t.crossEntropy(t.reshape(lg, 10, CFG.vocab()), t.constant(bes[k].upload(new float[]{5, 5, 9, 2, 0, 12, 4, 3, 2, 0}, 10)), 0f);
                loss.backward();
                out[k] = lg.value().toArray();
                float[] gt = d.tokEmbed.grad().toArray(), gm = m.grad().toArray(), gc = d.namedParameters().get("blocks.0.cross.kv.weight").grad().toArray();
                grads[k] = new float[gt.length + gm.length + gc.length];
                System.arraycopy(gt, 0, grads[k], 0, gt.length);
                System.arraycopy(gm, 0, grads[k], gt.length, gm.length);
                System.arraycopy(gc, 0, grads[k], gt.length + gm.length, gc.length);
            }
        }
        for (int i = 0; i < out[0].length; i++) assertEquals(out[1][i], out[0][i], 1e-4 * Math.max(1, Math.abs(out[1][i])), "logit " + i);
        for (int i = 0; i < grads[0].length; i++) assertEquals(grads[1][i], grads[0][i], 1e-4 * Math.max(1, Math.abs(grads[1][i])), "gradient " + i);
    }

    @Test void positionsAndTokensOutsideTheModelAreNamed() {
        try (TransformerDecoder d = new TransformerDecoder(CPU, CFG, 1); Tape t = Tape.inference(CPU)) {
            Var m = t.constant(CPU.upload(new float[16], 1, 1, 16));
            var far = assertThrows(IllegalArgumentException.class, () -> d.logits(t, new float[13], 1, 13, m));
            assertTrue(far.getMessage().contains("position 13 is past the 12"), far.getMessage());
            var tok = assertThrows(IllegalArgumentException.class, () -> d.logits(t, new float[]{1, 13}, 1, 2, m));
            assertTrue(tok.getMessage().contains("token id 13.0 at 1 is not in the vocabulary [0, 13)"), tok.getMessage());
        }
    }

    @Test void vocabularyEncodesDecodesAndNamesBadCaptions() {
        Vocabulary v = Vocabulary.build(List.of("A sneaker at the top left.", "a bag at the bottom right", "A sneaker, a bag"), 1);
        assertEquals("<pad>", v.word(0));
        assertEquals("a", v.word(4));                                            // most frequent first
        int[] ids = v.encode("a sneaker at the top", 8);
        assertEquals(Vocabulary.BOS, ids[0]);
        assertEquals(Vocabulary.EOS, ids[6]);
        assertEquals(Vocabulary.PAD, ids[7]);
        assertEquals("a sneaker at the top", v.decode(ids));
        assertEquals(Vocabulary.UNK, v.encode("a kite", 8)[2]);
        assertEquals(v, Vocabulary.fromJson("test", v.toJson()));
        var empty = assertThrows(IllegalArgumentException.class, () -> v.encode(" ,. ", 8));
        assertTrue(empty.getMessage().contains("has no words"), empty.getMessage());
        var longer = assertThrows(IllegalArgumentException.class, () -> v.encode("a b c d e f g", 8));
        assertTrue(longer.getMessage().contains("has 7 words; at most 6 fit 8 positions"), longer.getMessage());
        var bad = assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromJson("ckpt", "[\"a\",\"b\"]"));
        assertTrue(bad.getMessage().startsWith("ckpt: a vocabulary starts with"), bad.getMessage());
    }
}
