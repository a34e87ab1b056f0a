package dev.fovea.bench;

import dev.fovea.backend.Backend;
import dev.fovea.models.ImageGenerator;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Autoregressive decoding with and without the key/value cache: the generator drawing whole images (49 tokens each),
 * the two ways interleaved in each repeat after a warm-up of both; medians. Both draw the same tokens (greedy), which
 * is checked once.
 */
public final class DecodeBench {
    private DecodeBench() {}

    /** Median tokens/s: {cached, uncached}. */
    public static double[] run(Backend be, ImageGenerator net, int batch, double warmup, int repeats, double seconds, PrintStream log) {
        int[] classes = new int[batch];
        for (int i = 0; i < batch; i++) classes[i] = i % net.config().classes();
        int[][] a = net.sample(be, classes, 0f, new SplittableRandom(1), true), b = net.sample(be, classes, 0f, new SplittableRandom(1), false);
        for (int i = 0; i < batch; i++)
            if (!Arrays.equals(a[i], b[i])) throw new IllegalStateException("cached and uncached decoding drew different tokens for image " + i);
        // the Vector API kernels are slow until C2 has compiled them
        rate(be, net, classes, true, warmup / 2);
        rate(be, net, classes, false, warmup / 2);
        double[] cached = new double[repeats], plain = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            cached[r] = rate(be, net, classes, true, seconds);
            plain[r] = rate(be, net, classes, false, seconds);
            log.printf(Locale.ROOT, "  repeat %d: cached %.0f tokens/s, uncached %.0f tokens/s%n", r + 1, cached[r], plain[r]);
        }
        Arrays.sort(cached);
        Arrays.sort(plain);
        return new double[]{cached[repeats / 2], plain[repeats / 2]};
    }

    private static double rate(Backend be, ImageGenerator net, int[] classes, boolean cached, double seconds) {
        long t0 = System.nanoTime(), limit = (long) (seconds * 1e9), tokens = 0;
        SplittableRandom rng = new SplittableRandom(2);
        do {
            net.sample(be, classes, 1f, rng, cached);
            tokens += (long) classes.length * net.config().tokens().length();
        } while (System.nanoTime() - t0 < limit);
        return tokens / ((System.nanoTime() - t0) / 1e9);
    }
}
