package dev.fovea.data.coco;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * COCO's run-length encoding of a binary mask: runs of 0s and 1s alternating, starting with 0s, over the pixels in
 * column-major order (down each column, then the next), as pycocotools' {@code mask.encode} writes them. The counts
 * come as a list ("uncompressed", what Fovea writes) or as pycocotools' compressed string (what real crowd
 * annotations use): each count a difference to the count two back, in 5-bit groups offset by 48.
 *
 * @param height, width the image the mask covers
 * @param counts  run lengths, summing to height·width
 */
public record Rle(int height, int width, int[] counts) {
    public Rle {
        long sum = 0;
        for (int c : counts) {
            if (c < 0) throw new IllegalArgumentException("RLE: negative run length " + c);
            sum += c;
        }
        if (sum != (long) height * width)
            throw new IllegalArgumentException("RLE: run lengths sum to " + sum + ", not " + height + "x" + width + " = " + (long) height * width);
    }

    /** The mask as row-major bytes [height, width], 1 inside. */
    public byte[] decode() {
        byte[] m = new byte[height * width];
        int p = 0;
        for (int i = 0; i < counts.length; i++) {
            if ((i & 1) == 1)
                for (int k = p; k < p + counts[i]; k++) m[(k % height) * width + k / height] = 1;
            p += counts[i];
        }
        return m;
    }

    /** Encodes a row-major mask [height, width] (non-zero = inside). */
    public static Rle encode(byte[] mask, int height, int width) {
        if (mask.length != height * width)
            throw new IllegalArgumentException("RLE: mask has " + mask.length + " pixels, not " + height + "x" + width);
        List<Integer> runs = new ArrayList<>();
        int value = 0, run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++) {
                int v = mask[y * width + x] != 0 ? 1 : 0;
                if (v != value) {
                    runs.add(run);
                    run = 0;
                    value = v;
                }
                run++;
            }
        runs.add(run);
        return new Rle(height, width, runs.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Pixels inside. */
    public long area() {
        long a = 0;
        for (int i = 1; i < counts.length; i += 2) a += counts[i];
        return a;
    }

    /** pycocotools' compressed counts string ({@code rleFrString}). */
    public static Rle fromString(String s, int height, int width) {
        int[] cnts = new int[s.length()];
        int m = 0, p = 0;
        while (p < s.length()) {
            long x = 0;
            int k = 0;
            boolean more = true;
            while (more) {
                if (p >= s.length()) throw new IllegalArgumentException("RLE: compressed counts end inside a number at character " + p);
                int c = s.charAt(p) - 48;
                if (c < 0 || c > 63) throw new IllegalArgumentException("RLE: character '" + s.charAt(p) + "' at " + p + " is not in a compressed count");
                x |= (long) (c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0) x |= -1L << (5 * k);
            }
            if (m > 2) x += cnts[m - 2];
            cnts[m++] = Math.toIntExact(x);
        }
        return new Rle(height, width, Arrays.copyOf(cnts, m));
    }

    /** pycocotools' compressed counts string ({@code rleToString}). */
    public String toCompressedString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < counts.length; i++) {
            long x = counts[i];
            if (i > 2) x -= counts[i - 2];
            boolean more = true;
            while (more) {
                int c = (int) (x & 0x1f);
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) c |= 0x20;
                sb.append((char) (c + 48));
            }
        }
        return sb.toString();
    }

    @Override public boolean equals(Object o) {
        return o instanceof Rle r && r.height == height && r.width == width && Arrays.equals(r.counts, counts);
    }

    @Override public int hashCode() { return 31 * (31 * height + width) + Arrays.hashCode(counts); }

    @Override public String toString() { return "Rle[" + height + "x" + width + ", " + counts.length + " runs]"; }
}
