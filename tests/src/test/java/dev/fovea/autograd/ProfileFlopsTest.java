package dev.fovea.autograd;

import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.reference.ReferenceBackend;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The profile's FLOP counts, which `bench train --profile` turns into GFLOP/s per op: each product's forward and
 * backward against the count worked out by hand from its shapes.
 */
class ProfileFlopsTest {
    static final Backend REF = new ReferenceBackend();

    static Var leaf(Tape t, int... shape) {
        float[] v = new float[(int) dev.fovea.tensor.Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (i % 7 - 3) * 0.1f;
        return t.leaf(REF.upload(v, shape));
    }

    static long flops(Map<String, long[]> totals, String key) {
        long[] v = totals.get(key);
        if (v == null) throw new AssertionError("no '" + key + "' in " + totals.keySet());
        return v[2];
    }

    @Test void productsCountTheirMultiplyAdds() {
        Tape.Profile p = new Tape.Profile();
        try (Tape t = Tape.training(REF).profile(p)) {
            // linear [6, 5] · [4, 5]ᵀ: 6·5·4 multiply-adds forward; dx and dw the same each
            Var y = t.linear(leaf(t, 6, 5), leaf(t, 4, 5), null);
            // another linear to the same output shape from 7 features: a line of its own
            Var y7 = t.linear(leaf(t, 6, 7), leaf(t, 4, 7), null);
            // conv 3→4 channels, 3×3 on 2 images of 5×5, no padding: 2·4·3·3 outputs of 27 multiply-adds; x needs no gradient
            Var x = t.constant(REF.zeros(2, 3, 5, 5));
            Var c = t.conv2d(x, leaf(t, 4, 3, 3, 3), null, Conv2dSpec.of(0, 1));
            // causal attention, 1×2 slices of 3 queries: 1 + 2 + 3 visible keys each, D = 4
            Var a = t.attention(leaf(t, 1, 2, 3, 4), leaf(t, 1, 2, 3, 4), leaf(t, 1, 2, 3, 4), 0.5f, true);
            Var loss = t.add(t.add(t.add(t.sum(y), t.sum(y7)), t.sum(c)), t.sum(a));
            loss.backward();
        }
        Map<String, long[]> tot = p.totals();
        assertEquals(2 * 6 * 5 * 4, flops(tot, "linear [6, 5] → [6, 4] forward"));
        assertEquals(2 * 2 * 6 * 5 * 4, flops(tot, "linear [6, 5] → [6, 4] backward"));
        assertEquals(2 * 6 * 7 * 4, flops(tot, "linear [6, 7] → [6, 4] forward"));
        assertEquals(2 * 2 * 6 * 7 * 4, flops(tot, "linear [6, 7] → [6, 4] backward"));
        assertEquals(2 * 2 * 4 * 3 * 3 * 27, flops(tot, "conv2d [2, 3, 5, 5] → [2, 4, 3, 3] forward"));
        assertEquals(2 * 2 * 4 * 3 * 3 * 27, flops(tot, "conv2d [2, 3, 5, 5] → [2, 4, 3, 3] backward"), "the filter's gradient only");
        long pairs = 2 * (1 + 2 + 3);
        assertEquals(2 * pairs * (4 + 4), flops(tot, "attention [1, 2, 3, 4] forward"));
        assertEquals(2 * pairs * (3 * 4 + 2 * 4), flops(tot, "attention [1, 2, 3, 4] backward"));
        assertEquals(0, flops(tot, "add [1] forward"), "not a product");
    }
}
