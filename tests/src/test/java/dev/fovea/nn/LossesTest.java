package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.reference.ReferenceBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The box and mask losses on cases worked by hand (their gradients: TapeGradientTest). */
class LossesTest {
    static final Backend REF = new ReferenceBackend();

    static float value(java.util.function.Function<Tape, Var> f) {
        try (Tape t = Tape.inference(REF)) {
            return f.apply(t).value().toArray()[0];
        }
    }

    static Var c(Tape t, float[] v, int... shape) { return t.constant(REF.upload(v, shape)); }

    @Test void smoothL1IsQuadraticInsideBetaAndLinearOutside() {
        // d = 0.5 → 0.5·0.25 = 0.125; d = −2 → 2 − 0.5 = 1.5; mean 0.8125
        assertEquals(0.8125f, value(t -> Losses.smoothL1(t, c(t, new float[]{1.5f, -1}, 2), c(t, new float[]{1, 1}, 2), 1f)), 1e-6f);
        // beta 4: both inside, 0.5·d²/4
        assertEquals((0.125f / 4 + 2f / 4) / 2, value(t -> Losses.smoothL1(t, c(t, new float[]{1.5f, -1}, 2), c(t, new float[]{1, 1}, 2), 4f)), 1e-6f);
    }

    @Test void giouByHand() {
        float[] same = {0, 0, 2, 2};
        assertEquals(0f, value(t -> Losses.giou(t, c(t, same, 1, 4), c(t, same, 1, 4), 0f)), 1e-6f);
        // disjoint unit boxes 1 apart: IoU 0, hull 3, union 2: GIoU = −1/3, loss 4/3
        assertEquals(4f / 3, value(t -> Losses.giou(t, c(t, new float[]{0, 0, 1, 1}, 1, 4), c(t, new float[]{2, 0, 3, 1}, 1, 4), 0f)), 1e-6f);
        // overlap 1 of union 7, hull 9: GIoU = 1/7 − 2/9; two pairs averaged with a perfect one
        float partial = 1 - (1f / 7 - 2f / 9);
        assertEquals(partial / 2, value(t -> Losses.giou(t, c(t, new float[]{0, 0, 2, 2, 0, 0, 2, 2}, 2, 4), c(t, new float[]{1, 1, 3, 3, 0, 0, 2, 2}, 2, 4), 0f)), 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> value(t -> Losses.giou(t, c(t, same, 4), c(t, same, 4), 0f)));
    }

    @Test void diceByHand() {
        // p·y sums to 1, p and y to 2 each: 1 − 2·1/4
        assertEquals(0.5f, value(t -> Losses.dice(t, c(t, new float[]{1, 0, 1, 0}, 4), c(t, new float[]{1, 1, 0, 0}, 4), 0f)), 1e-6f);
        assertEquals(0f, value(t -> Losses.dice(t, c(t, new float[]{1, 0, 1}, 3), c(t, new float[]{1, 0, 1}, 3), 0f)), 1e-6f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> value(t -> Losses.dice(t, c(t, new float[]{1, 0}, 2), c(t, new float[]{1, 0, 1}, 3), 0f)));
        assertEquals("Dice: prediction [2] and target [3] differ in shape", e.getMessage());
    }
}
