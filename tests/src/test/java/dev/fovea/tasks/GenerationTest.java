package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.ImageTokens;
import dev.fovea.models.Decoding;
import dev.fovea.models.ImageGenerator;
import dev.fovea.models.TransformerDecoder;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Image tokens, decoder-only sampling with and without the cache, and the generator learning a few images. */
class GenerationTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    static final ImageTokens TK = ImageTokens.FASHION;

    @Test void imageTokensByHand() {
        assertEquals(14, TK.small());
        assertEquals(49, TK.length());
        assertEquals(256, TK.vocab());
        assertEquals(196, TK.dims());
        // the top-left 4×4 pixels (one 2×2 token of 2×2-averaged pixels): levels 0 1 / 2 3 read as 0 + 1·4 + 2·16 + 3·64
        float[] img = new float[28 * 28];
        float[][] block = {{0, 0.2f}, {0.6f, 1}};                                  // round(v·3): 0, 1, 2, 3
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) img[y * 28 + x] = block[y / 2][x / 2];
        img[27 * 28 + 27] = 1f;                                                    // a quarter of the bottom-right 2×2: mean 0.25 → level 1
        int[] t = TK.encode(img);
        assertEquals(4 + 32 + 192, t[0]);
        assertEquals(64, t[48]);                                                   // level 1 at the patch's bottom right (k = 3)
        for (int i = 1; i < 48; i++) assertEquals(0, t[i], "token " + i);
        float[] lv = TK.levels(t);
        assertEquals(1f / 3, lv[1], 1e-6);
        assertEquals(2f / 3, lv[14], 1e-6);
        assertEquals(1f, lv[15], 1e-6);
        assertEquals(1f / 3, lv[14 * 14 - 1], 1e-6);
        byte[] px = TK.pixels(t);
        assertEquals(85, px[2] & 0xff);                                            // 255/3 repeated over the 2×2 block
        assertEquals(85, px[28 + 3] & 0xff);
        var bad = assertThrows(IllegalArgumentException.class, () -> TK.levels(new int[48]));
        assertTrue(bad.getMessage().contains("49 tokens an image, got 48"), bad.getMessage());
        var big = assertThrows(IllegalArgumentException.class, () -> TK.levels(new int[]{256, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
        assertTrue(big.getMessage().contains("token 256 at 0"), big.getMessage());
    }

    @Test void quantisingTwiceChangesNothing() throws IOException {
        ImageDataset d = ImageDataset.embeddedSample().test();
        ImageDataset sub = new ImageDataset("sub", 50, 28, 28, java.util.Arrays.copyOf(d.pixels(), 50 * 784), java.util.Arrays.copyOf(d.labels(), 50), 10);
        ImageDataset q = TK.quantised(sub);
        for (int i = 0; i < 50; i++) assertArrayEquals(TK.encode(sub, i), TK.encode(q, i), "image " + i);
        assertArrayEquals(q.pixels(), TK.quantised(q).pixels());
    }

    @Test void cachedSamplingDrawsTheSameTokensAsRecomputingThePrefix() {
        TransformerDecoder.Config cfg = new TransformerDecoder.Config(20, 9, 16, 2, 2, false);
        for (long seed = 1; seed <= 3; seed++) {
            try (TransformerDecoder d = new TransformerDecoder(CPU, cfg, seed)) {
                CPU.scale(d.head.weight.value(), 20f, d.head.weight.value());  // peaked enough that the draws differ by prefix
                int[][] prefix = {{17}, {18}, {19}};
                for (float temp : new float[]{0f, 1f}) {
                    int[][] plain = Decoding.sample(d, CPU, prefix, 9, 16, temp, new SplittableRandom(seed), false);
                    int[][] cached = Decoding.sample(d, CPU, prefix, 9, 16, temp, new SplittableRandom(seed), true);
                    for (int i = 0; i < 3; i++) {
                        assertArrayEquals(plain[i], cached[i], "seed " + seed + " temperature " + temp + " row " + i);
                        for (int tok : cached[i]) assertTrue(tok < 16, "a token outside the allowed range: " + tok);
                    }
                }
            }
        }
        try (TransformerDecoder d = new TransformerDecoder(CPU, cfg, 1)) {
            var far = assertThrows(IllegalArgumentException.class, () -> Decoding.sample(d, CPU, new int[][]{{17}}, 10, 16, 1f, new SplittableRandom(1), true));
            assertTrue(far.getMessage().contains("do not fit the 9 positions"), far.getMessage());
            var hot = assertThrows(IllegalArgumentException.class, () -> Decoding.sample(d, CPU, new int[][]{{17}}, 3, 16, -1f, new SplittableRandom(1), true));
            assertTrue(hot.getMessage().contains("temperature must be a finite number >= 0, got -1.0"), hot.getMessage());
        }
    }

    /** One image per class: the generator learns to draw exactly it when asked for the class (greedy sampling). */
    @Test void generatorLearnsOneImagePerClass() throws IOException {
        ImageDataset d = ImageDataset.embeddedSample().train();
        int[] pick = new int[3];
        for (int c = 0, i = 0; c < 3; i++) if (d.label(i) == c) pick[c++] = i;
        byte[] px = new byte[3 * 784], lb = new byte[3];
        for (int c = 0; c < 3; c++) {
            System.arraycopy(d.pixels(), pick[c] * 784, px, c * 784, 784);
            lb[c] = (byte) c;
        }
        ImageDataset three = new ImageDataset("three", 3, 28, 28, px, lb, 3);
        TrainConfig tc = TrainConfig.builder("generator").epochs(150).batch(3).lr(0.003f).weightDecay(0f).schedule("constant").warmup(0).build();
        try (ImageGenerator net = new ImageGenerator(CPU, new ImageGenerator.Config(TK, 3, 32, 2, 2), 1); Optimizer opt = tc.newOptimizer(CPU, net)) {
            var tr = new Trainer<>(CPU, net, opt, tc, new GenerationTask(CPU, net, tc, three, three, null, null, 1));
            double before = GenerationTask.likelihood(CPU, net, three, 3).bitsPerDim();
            EpochMetrics last = null;
            for (int e = 1; e <= 150; e++) last = tr.trainEpoch(e, Trainer.Listener.SILENT);
            double after = GenerationTask.likelihood(CPU, net, three, 3).bitsPerDim();
            assertTrue(before > 1.9 && after < 0.05, "bits/dim " + before + " -> " + after + " (last train loss " + last.trainLoss() + ")");
            assertEquals(after, net.bitsPerDim(last.trainLoss()), 0.05);
            int[][] drawn = net.sample(CPU, new int[]{2, 0, 1}, 0f, new SplittableRandom(1), true);
            assertArrayEquals(TK.encode(three, 2), drawn[0]);
            assertArrayEquals(TK.encode(three, 0), drawn[1]);
            assertArrayEquals(TK.encode(three, 1), drawn[2]);
            ImageDataset s = GenerationTask.samples(CPU, net, 2, 0f, 1, 4);
            assertEquals(6, s.count());
            assertEquals(2, s.label(5));
            assertArrayEquals(TK.pixels(TK.encode(three, 2)), java.util.Arrays.copyOfRange(s.pixels(), 5 * 784, 6 * 784));
            var unknown = assertThrows(IllegalArgumentException.class, () -> net.classMark(3));
            assertTrue(unknown.getMessage().contains("class 3 is not in [0, 3)"), unknown.getMessage());
        }
    }

    @Test void bitsPerDimOfAUniformModelIsTwo() {
        try (ImageGenerator net = new ImageGenerator(CPU, new ImageGenerator.Config(TK, 10, 16, 1, 2), 1)) {
            assertEquals(2.0, net.bitsPerDim(Math.log(256)), 1e-12);               // 8 bits a token, 4 pixels a token
            try (Tape t = Tape.inference(CPU)) {
                float loss = net.loss(t, new int[][]{new int[49]}, new int[]{0}).value().toArray()[0];
                assertEquals(Math.log(266), loss, 0.05);                          // a fresh model is nearly uniform over its 266 tokens
            }
        }
    }
}
