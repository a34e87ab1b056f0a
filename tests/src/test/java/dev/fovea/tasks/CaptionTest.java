package dev.fovea.tasks;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cli.Main;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.metrics.Bleu;
import dev.fovea.models.Captioner;
import dev.fovea.optim.Optimizer;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BLEU against NLTK's corpus_bleu, and the captioner on a few scenes. */
class CaptionTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    @TempDir Path tmp;

    static List<String> w(String s) { return List.of(s.split(" ")); }

    /** Expected values from nltk.translate.bleu_score.corpus_bleu (NLTK 3.10.3) on the same lists. */
    @Test void bleuMatchesNltk() {
        List<List<String>> cands = List.of(w("a sneaker at the top left and a bag at the bottom right"), w("there is a dress in the center"),
                w("a coat on the left and a shirt"));
        List<List<List<String>>> refs = List.of(
                List.of(w("a sneaker at the top left and a bag at the bottom right"), w("a bag at the bottom right and a sneaker at the top left")),
                List.of(w("a dress in the center"), w("there is a dress in the center")),
                List.of(w("a coat on the left and a shirt on the right"), w("there is a coat on the left and a shirt on the right")));
        assertEquals(0.898397321348071, Bleu.corpus(cands, refs, 4), 1e-12);
        assertEquals(0.8187307530779819, Bleu.corpus(List.of(w("a b c d e")), List.of(List.of(w("a b c d e f"))), 4), 1e-12);   // brevity penalty
        assertEquals(0.0, Bleu.corpus(List.of(w("x y z w")), List.of(List.of(w("a b c d"))), 4));
        // the counts of two parts of the corpus add up to the whole's (how the ranks of a test pass combine them)
        long[] first = Bleu.Counts.of(cands.subList(0, 1), refs.subList(0, 1), 4).toArray(), rest = Bleu.Counts.of(cands.subList(1, 3), refs.subList(1, 3), 4).toArray();
        long[] sum = new long[first.length];
        for (int i = 0; i < sum.length; i++) sum[i] = first[i] + rest[i];
        assertArrayEquals(Bleu.Counts.of(cands, refs, 4).toArray(), sum);
        assertEquals(0.898397321348071, Bleu.Counts.fromArray(sum).score(), 1e-12);
    }

    @Test void captionerLearnsAFewScenesAndCachedDecodingAgrees() throws IOException {
        assertEquals(0, Main.run("scenes", "--out", tmp.toString(), "--count", "8", "--test-count", "1", "--seed", "4", "--max-items", "1"));
        CaptionData data = CaptionData.load(tmp.resolve("train"), null, 0);
        assertEquals(8, data.count());
        Captioner.Config cfg = new Captioner.Config(64, 1, 32, 1, 2, 1, data.vocabulary().size(), data.length());
        TrainConfig tc = TrainConfig.builder("captioner").epochs(200).batch(8).lr(0.003f).weightDecay(0f).schedule("constant").warmup(0).build();
        float[] stats = {0.1f, 0.25f};
        try (Captioner net = new Captioner(CPU, cfg, 1); Optimizer opt = tc.newOptimizer(CPU, net)) {
            var tr = new Trainer<>(CPU, net, opt, tc, new CaptionTask(CPU, net, data, data, stats));
            EpochMetrics first = tr.trainEpoch(1, Trainer.Listener.SILENT);
            EpochMetrics last = first;
            for (int e = 2; e <= 60; e++) last = tr.trainEpoch(e, Trainer.Listener.SILENT);
            assertTrue(last.trainLoss() < 0.3 * first.trainLoss(), first.trainLoss() + " -> " + last.trainLoss());
            CaptionTask.Report r = CaptionTask.evaluate(CPU, net, data, stats, 8);
            assertTrue(r.bleu4() > 0.3, "BLEU-4 on the training scenes " + r.bleu4() + ": " + r.captions());
            int[] idx = {0, 1, 2, 3};
            float[] x = CaptionTask.images(data, idx, stats[0], stats[1]);
            int[][] cached = net.caption(CPU, x, 4, true), plain = net.caption(CPU, x, 4, false);
            for (int i = 0; i < 4; i++) assertArrayEquals(plain[i], cached[i], "image " + i);
            assertTrue(data.vocabulary().decode(cached[0]).split(" ").length >= 3, data.vocabulary().decode(cached[0]));
        }
    }

    @Test void overLongCaptionsAreNamed() throws IOException {
        assertEquals(0, Main.run("scenes", "--out", tmp.toString(), "--count", "3", "--test-count", "1", "--seed", "4"));
        CaptionData train = CaptionData.load(tmp.resolve("train"), null, 0);
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> CaptionData.load(tmp.resolve("train"), train.vocabulary(), 5));
        assertTrue(e.getMessage().contains("captions.json: caption \"") && e.getMessage().contains("fit 5 positions"), e.getMessage());
        assertEquals(Vocabulary.BOS, train.tokens(0)[0][0]);
    }
}
