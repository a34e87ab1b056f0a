package dev.fovea.data;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fashion-MNIST scenes: tight boxes, whole masks, disjoint items, a consistent semantic map, reproducible. */
class ScenesTest {
    @Test void itemsAreTightDisjointAndConsistent() throws Exception {
        ImageDataset src = ImageDataset.embeddedSample().train();
        SplittableRandom rng = new SplittableRandom(9);
        int[] counts = new int[4];
        for (int n = 0; n < 60; n++) {
            Scenes.Scene s = Scenes.draw(src, rng, 64, 3, n % 2 == 0);
            counts[s.items().size()]++;
            int[] owner = new int[64 * 64];
            for (int k = 0; k < s.items().size(); k++) {
                Scenes.Item it = s.items().get(k);
                double[] b = it.box();
                int x0 = 64, y0 = 64, x1 = -1, y1 = -1;
                for (int i = 0; i < it.mask().length; i++) {
                    if (it.mask()[i] == 0) continue;
                    int x = i % 64, y = i / 64;
                    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
                    assertEquals(0, owner[i], "two items share a pixel");
                    owner[i] = k + 1;
                    assertEquals(1 + it.label(), s.semantic()[i]);
                    assertTrue(s.pixels()[i] > Scenes.INK);
                }
                assertArrayEquals(new double[]{x0, y0, x1 - x0 + 1, y1 - y0 + 1}, b, "the box is the mask's extent");
            }
            for (int i = 0; i < owner.length; i++) if (owner[i] == 0) assertEquals(0, s.semantic()[i]);
        }
        assertEquals(0, counts[0]);
        assertTrue(counts[1] > 0 && counts[2] > 0 && counts[3] > 0, java.util.Arrays.toString(counts));
    }

    @Test void sameSeedSameScene() throws Exception {
        ImageDataset src = ImageDataset.embeddedSample().test();
        Scenes.Scene a = Scenes.draw(src, new SplittableRandom(4), 64, 3, false), b = Scenes.draw(src, new SplittableRandom(4), 64, 3, false);
        assertArrayEquals(a.pixels(), b.pixels());
        assertArrayEquals(a.semantic(), b.semantic());
        assertFalse(java.util.Arrays.equals(a.pixels(), Scenes.draw(src, new SplittableRandom(5), 64, 3, false).pixels()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Scenes.draw(src, new SplittableRandom(1), 30, 3, true));
        assertEquals("scenes: a 30x30 canvas cannot hold a 28-pixel item scaled by up to 1.25", e.getMessage());
    }
}
