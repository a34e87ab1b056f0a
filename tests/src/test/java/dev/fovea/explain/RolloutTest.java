package dev.fovea.explain;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Attention rollout on a two-layer, two-token example worked by hand. */
class RolloutTest {
    @Test void twoLayersByHand() {
        // layer 1: token 0 attends to itself, token 1 half and half; with the residual: Â1 = [[1, 0], [.25, .75]]
        // layer 2: token 0 half and half, token 1 to itself:               Â2 = [[.75, .25], [0, 1]]
        // R = Â2 · Â1 = [[.75 + .0625, .1875], [.25, .75]]
        double[][] r = Rollout.of(List.of(new double[][]{{1, 0}, {0.5, 0.5}}, new double[][]{{0.5, 0.5}, {0, 1}}));
        assertArrayEquals(new double[]{0.8125, 0.1875}, r[0], 1e-12);
        assertArrayEquals(new double[]{0.25, 0.75}, r[1], 1e-12);
    }

    @Test void oneUniformLayerAndNone() {
        double[][] r = Rollout.of(List.<double[][]>of(new double[][]{{0.5, 0.5}, {0.5, 0.5}}));
        assertArrayEquals(new double[]{0.75, 0.25}, r[0], 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Rollout.of(List.of()));
    }
}
