package dev.fovea.data;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training images' augmentation: shifts of up to a pixel, and mirrors only for classes that may be mirrored. */
class AugmentationTest {
    static final int H = 28, W = 28, ROW = 10, COL = 3;

    /** One image per class, each black but for one bright pixel at (ROW, COL). */
    static ImageDataset dots(List<String> names) {
        byte[] px = new byte[10 * H * W], labels = new byte[10];
        for (int c = 0; c < 10; c++) {
            px[c * H * W + ROW * W + COL] = (byte) 255;
            labels[c] = (byte) c;
        }
        return new ImageDataset("dots", 10, H, W, px, labels, 10, names);
    }

    /** Where image i's bright pixel went, as {row, column}. */
    static int[] dot(float[] x, int i) {
        int best = 0;
        for (int j = 1; j < H * W; j++) if (x[i * H * W + j] > x[i * H * W + best]) best = j;
        return new int[]{best / W, best % W};
    }

    /** Per class, how many of {@code draws} augmented copies came out mirrored; fails on any place a shift cannot reach. */
    static int[] mirrored(ImageDataset d, int draws) {
        int[] idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, count = new int[10];
        SplittableRandom rng = new SplittableRandom(7);
        for (int k = 0; k < draws; k++) {
            float[] x = Batches.images(d, idx, rng);
            for (int c = 0; c < 10; c++) {
                int[] p = dot(x, c);
                assertTrue(Math.abs(p[0] - ROW) <= 1, "class " + c + ": row " + p[0]);
                boolean plain = Math.abs(p[1] - COL) <= 1, flipped = Math.abs(p[1] - (W - 1 - COL)) <= 1;
                assertTrue(plain || flipped, "class " + c + ": column " + p[1] + " is neither a shift nor a mirrored shift of " + COL);
                if (flipped) count[c]++;
            }
        }
        return count;
    }

    @Test void fashionGarmentsAndBagsAreMirroredAboutHalfTheTimeFootwearNever() {
        int draws = 400;
        int[] m = mirrored(dots(List.of(ImageDataset.FASHION_CLASSES)), draws);
        for (int c = 0; c < 10; c++) {
            boolean footwear = c == 5 || c == 7 || c == 9;   // Sandal, Sneaker, Ankle boot
            if (footwear) assertEquals(0, m[c], ImageDataset.FASHION_CLASSES[c] + " mirrored");
            else assertTrue(m[c] > draws * 0.4 && m[c] < draws * 0.6, ImageDataset.FASHION_CLASSES[c] + " mirrored " + m[c] + " of " + draws);
        }
    }

    @Test void dataNamedOtherwiseOrUnnamedIsNeverMirrored() {
        assertArrayEquals(new int[10], mirrored(dots(null), 100));
        List<String> digits = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
        assertArrayEquals(new int[10], mirrored(dots(digits), 100));
    }

    @Test void withoutAugmentationImagesAreOnlyNormalised() {
        ImageDataset d = dots(List.of(ImageDataset.FASHION_CLASSES));
        float[] x = Batches.images(d, new int[]{4, 6}, null), want = new float[2 * H * W];
        d.normalized(4, want, 0);
        d.normalized(6, want, H * W);
        assertArrayEquals(want, x);
    }

    @Test void mirrorReversesEachRowAndTwiceIsTheIdentity() {
        for (int w : new int[]{1, 4, 5}) {
            float[] x = new float[2 + 3 * w];
            for (int i = 0; i < x.length; i++) x[i] = i;
            float[] m = x.clone();
            Batches.mirror(m, 2, 3, w);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < w; c++) assertEquals(x[2 + r * w + c], m[2 + r * w + w - 1 - c], "w " + w + " row " + r + " col " + c);
            assertEquals(0f, m[0]);
            Batches.mirror(m, 2, 3, w);
            assertArrayEquals(x, m, "mirrored twice, width " + w + ": " + Arrays.toString(m));
        }
    }
}
