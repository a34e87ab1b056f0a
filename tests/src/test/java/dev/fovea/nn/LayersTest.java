package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.optim.AdamW;
import dev.fovea.optim.Optimizer;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Sgd;
import dev.fovea.reference.ReferenceBackend;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Modules, initialisation, dropout, optimizers and schedules: the pieces the golden tests do not isolate. */
class LayersTest {
    static final Backend REF = new ReferenceBackend();

    @Test void modulesNameTheirParametersLikePyTorch() {
        try (Sequential s = new Sequential().add("conv", new Conv2d(REF, new Init(1), 3, 4, 3, Conv2dSpec.of(1, 1)))
                .add("act", new Act(Act.Kind.RELU)).add("flat", new Flatten())
                .add("fc", new Linear(REF, new Init(2), 4 * 5 * 5, 7)).add("ln", new LayerNorm(REF, new Init(3), 7, 1e-5f))) {
            assertEquals(List.of("conv.weight", "conv.bias", "fc.weight", "fc.bias", "ln.weight", "ln.bias"), List.copyOf(s.namedParameters().keySet()));
            assertEquals(4 * 3 * 9 + 4 + 100 * 7 + 7 + 14, s.parameterCount());
            try (Tape t = Tape.inference(REF)) {
                Var y = s.forward(t, t.constant(REF.zeros(2, 3, 5, 5)));
                assertArrayEquals(new int[]{2, 7}, y.shape());
            }
        }
    }

    @Test void initialisationIsSeededAndPyTorchSized() {
        float[] a = new Init(7).pytorchDefault(REF, 25, 6, 1, 5, 5).toArray(), b = new Init(7).pytorchDefault(REF, 25, 6, 1, 5, 5).toArray();
        assertArrayEquals(a, b, "same seed, same weights");
        assertNotEquals(a[0], new Init(8).pytorchDefault(REF, 25, 6, 1, 5, 5).toArray()[0]);
        for (float v : a) assertTrue(Math.abs(v) <= 0.2f, "U(±1/√25)");
    }

    @Test void dropoutIsSeededInTrainingAndTheIdentityInEvaluation() {
        float[] ones = new float[10_000];
        java.util.Arrays.fill(ones, 1f);
        Dropout d = new Dropout(0.25f, 9);
        try (Tape t = Tape.training(REF)) {
            float[] y = d.forward(t, t.constant(REF.upload(ones, ones.length))).value().toArray();
            int zeros = 0;
            for (float v : y) { if (v == 0f) zeros++; else assertEquals(1f / 0.75f, v, 1e-6f); }
            assertTrue(zeros > 2300 && zeros < 2700, "about a quarter dropped: " + zeros);
            float[] again = new Dropout(0.25f, 9).forward(t, t.constant(REF.upload(ones, ones.length))).value().toArray();
            assertArrayEquals(y, again, "same seed, same mask");
        }
        d.train(false);
        try (Tape t = Tape.training(REF)) {
            Var x = t.constant(REF.upload(ones, ones.length));
            assertSame(x, d.forward(t, x));
        }
        assertThrows(IllegalArgumentException.class, () -> new Dropout(1f, 0));
    }

    /** One step of each optimizer on a weight p = [[1, -2]] with gradient [[0.5, 0.25]], against the formulas by hand. */
    @Test void optimizersFollowPyTorchsFormulas() {
        Var p = Var.parameter(REF.upload(new float[]{1, -2}, 1, 2));
        try (Tape t = Tape.training(REF)) {
            t.sum(t.mul(p, t.constant(REF.upload(new float[]{0.5f, 0.25f}, 1, 2)))).backward();
        }
        try (Sgd sgd = new Sgd(REF, Map.of("p", p), 0.9f, 0.1f, true)) {
            sgd.step(0.1f);
            // g = grad + wd·p = [0.6, 0.05]; buf = g; nesterov: g + 0.9·buf = [1.14, 0.095]; p -= 0.1·that
            assertArrayEquals(new float[]{1 - 0.114f, -2 - 0.0095f}, p.value().toArray(), 1e-6f);
            assertTrue(sgd.state().containsKey("p.momentum"));
        }
        try (AdamW adam = new AdamW(REF, Map.of("p", p), 0.9f, 0.999f, 1e-8f, 0.01f)) {
            float[] before = p.value().toArray();
            adam.step(0.001f);
            // step 1: m̂ = g, v̂ = g², update = lr·g/(|g| + eps) = lr·sign(g); decoupled decay p·(1 − lr·wd) first
            float[] after = p.value().toArray();
            for (int i = 0; i < 2; i++) assertEquals(before[i] * (1 - 0.001f * 0.01f) - 0.001f, after[i], 1e-6f);
        }
        p.release();
        // as timm: no decay for biases and norm gains (one dimension), the position embedding and the class token
        assertTrue(Optimizer.decays("blocks.0.attn.qkv.weight", new int[]{192, 64}));
        assertFalse(Optimizer.decays("blocks.0.attn.qkv.bias", new int[]{192}));
        assertFalse(Optimizer.decays("norm.weight", new int[]{64}));
        assertFalse(Optimizer.decays("pos_embed", new int[]{1, 50, 64}));
        assertFalse(Optimizer.decays("cls_token", new int[]{1, 1, 64}));
        Var bias = Var.parameter(REF.upload(new float[]{1, -2}, 2));
        try (Tape t = Tape.training(REF)) {
            t.sum(t.mul(bias, t.constant(REF.upload(new float[]{0.5f, 0.25f}, 2)))).backward();
        }
        try (AdamW adam = new AdamW(REF, Map.of("b", bias), 0.9f, 0.999f, 1e-8f, 0.5f)) {
            adam.step(0.001f);
            assertArrayEquals(new float[]{1 - 0.001f, -2 - 0.001f}, bias.value().toArray(), 1e-6f, "no decay on a bias");
        }
        bias.release();
    }

    @Test void schedules() {
        LrSchedule cos = LrSchedule.cosine(0.1f, 10, 110, 0f);
        assertEquals(0.01f, cos.lr(0), 1e-7f, "warm-up starts at lr/warmup");
        assertEquals(0.1f, cos.lr(9), 1e-7f);
        assertEquals(0.1f, cos.lr(10), 1e-7f, "then the peak");
        assertEquals(0.05f, cos.lr(60), 1e-6f, "half-way down the cosine");
        assertEquals(0f, cos.lr(110), 0f);
        LrSchedule step = LrSchedule.step(1f, 10, 0.5f);
        assertEquals(1f, step.lr(9));
        assertEquals(0.5f, step.lr(10));
        assertEquals(0.25f, step.lr(25));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosine(0.1f, 20, 10, 0f));
    }
}
