package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.inference.ImageSampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fovea generate}: a grid of images drawn by the library's {@link ImageSampler}. */
@Command(name = "generate", description = {"Draw images of a class with a checkpoint of train --task generate and write them as a grid (PNG),",
        "each image 2× enlarged; --class all draws --count of every class, a row each.",
        "Last line: generated class=C count=N temperature=T seed=S out=PATH"})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--weights", description = "a checkpoint of train --task generate (default: ${DEFAULT-VALUE})") Path weights = GenerateRun.DEFAULT_WEIGHTS;
    @Option(names = "--class", required = true, description = "a Fashion-MNIST class by name (\"ankle boot\", \"T-shirt/top\") or index, or all") String cls;
    @Option(names = "--count", description = "images (per class with --class all) (default: ${DEFAULT-VALUE})") int count = 16;
    @Option(names = "--out", required = true, description = "the PNG to write") Path out;
    @Option(names = "--overwrite", description = "replace --out if it exists") boolean overwrite;
    @Option(names = "--temperature", description = "sampling temperature: 1 samples the model as trained, lower is more conservative, 0 is greedy (default: ${DEFAULT-VALUE})")
    float temperature = 1f;
    @Option(names = "--seed", description = "sampling seed (default: ${DEFAULT-VALUE})") long seed = 1;
    @Mixin EngineOptions engine;

    static final int SCALE = 2, GAP = 2;

    @Override public Integer call() throws IOException {
        if (count < 1 || count > 1024) throw new IllegalArgumentException("--count must be in 1..1024, got " + count);
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be a finite number >= 0, got " + temperature);
        try (Backend be = engine.open(); ImageSampler g = ImageSampler.load(be, weights)) {
            int classes = g.labels().size();
            boolean all = cls.strip().equalsIgnoreCase("all");
            int[] asked;
            int cols;
            if (all) {
                asked = new int[classes * count];
                for (int i = 0; i < asked.length; i++) asked[i] = i / count;
                cols = count;
            } else {
                asked = new int[count];
                java.util.Arrays.fill(asked, g.classIndex(cls));
                cols = (int) Math.ceil(Math.sqrt(count));
            }
            ImageFiles.refuseToReplace(out, overwrite);
            byte[][] images = g.sample(asked, temperature, seed);
            int n = g.side(), side = n * SCALE, rows = (asked.length + cols - 1) / cols;
            int width = cols * side + (cols + 1) * GAP, height = rows * side + (rows + 1) * GAP;
            byte[] grid = new byte[width * height];
            java.util.Arrays.fill(grid, (byte) 96);          // mid grey between the images
            for (int i = 0; i < asked.length; i++) {
                int x0 = GAP + (i % cols) * (side + GAP), y0 = GAP + (i / cols) * (side + GAP);
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++) grid[(y0 + y) * width + x0 + x] = images[i][(y / SCALE) * n + x / SCALE];
            }
            Path file = out.toAbsolutePath();
            if (file.getParent() != null) Files.createDirectories(file.getParent());
            ImageFiles.writeGrey(grid, width, height, file);
            String name = all ? "all" : g.labels().get(asked[0]);
            System.out.printf(Locale.ROOT, "generated class=%s count=%d temperature=%s seed=%d out=%s%n", name.replace(' ', '_'), asked.length, temperature, seed, out);
            return 0;
        }
    }
}
