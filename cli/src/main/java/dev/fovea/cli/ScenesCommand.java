package dev.fovea.cli;

import dev.fovea.data.ImageDataset;
import dev.fovea.data.SceneCaptions;
import dev.fovea.data.Scenes;
import dev.fovea.data.coco.CocoCaptions;
import dev.fovea.data.coco.CocoDataset;
import dev.fovea.data.coco.Rle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/** {@code fovea scenes}: writes a COCO-format detection / segmentation dataset made of Fashion-MNIST items. */
@Command(name = "scenes", description = {"Make Fashion-MNIST scenes: a COCO-format detection / segmentation dataset.",
        "Each scene places 1..--max-items Fashion-MNIST items (train split for OUT/train, test split for OUT/test)",
        "at random, non-overlapping places on a dark canvas. Per split: images/NNNNNN.png, masks/NNNNNN.png",
        "(semantic labels: 0 background, 1 + class), annotations.json (COCO: tight boxes, per-instance RLE masks)",
        "and captions.json (COCO captions: each item and where it is, three phrasings per scene).",
        "Last line: scenes out=DIR train=N test=M seed=S"})
final class ScenesCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "output directory") Path out;
    @Option(names = "--overwrite", description = "replace the scenes an --out already holds (its train/ and test/ folders, once the new ones are complete)") boolean overwrite;
    @Option(names = "--count", description = "training scenes (default: ${DEFAULT-VALUE})") int count = 20_000;
    @Option(names = "--test-count", description = "test scenes (default: a tenth of --count)") Integer testCount;
    @Option(names = "--seed", description = "seed (default: ${DEFAULT-VALUE})") long seed = 1;
    @Option(names = "--max-items", description = "items per scene, at most (default: ${DEFAULT-VALUE})") int maxItems = 3;
    @Option(names = "--size", description = "canvas side in pixels (default: ${DEFAULT-VALUE})") int size = 64;
    @Option(names = "--scale", description = "scale each item by a random factor in [0.75, 1.25]") boolean scale;
    @Option(names = "--data", description = "directory of Fashion-MNIST IDX files (default: as train)") Path data;

    @Override public Integer call() throws IOException {
        if (count < 1) throw new IllegalArgumentException("--count must be >= 1, got " + count);
        int tests = testCount != null ? testCount : Math.max(1, count / 10);
        if (tests < 0) throw new IllegalArgumentException("--test-count must be >= 0, got " + tests);
        if (!overwrite && (Files.exists(out.resolve("train")) || Files.exists(out.resolve("test"))))
            throw new IllegalArgumentException(out + " already holds scenes (train/, test/); pass --overwrite to replace them, or another --out");
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description());
        // the test split gets its own stream, so that its scenes do not depend on --count
        write(out.resolve("train"), splits.train(), count, new SplittableRandom(seed));
        write(out.resolve("test"), splits.test(), tests, new SplittableRandom(seed ^ 0x7E57L));
        System.out.println("scenes out=" + out + " train=" + count + " test=" + tests + " seed=" + seed);
        return 0;
    }

    /**
     * Writes a split into a folder beside {@code split} and puts it in place only once complete: an interrupted run
     * leaves the old split as it was (not new images under old annotations), and a replaced split keeps none of the
     * old scenes beyond the new count.
     */
    private void write(Path split, ImageDataset source, int n, SplittableRandom rng) throws IOException {
        Files.createDirectories(split.getParent());
        Path dir = Files.createTempDirectory(split.getParent(), split.getFileName() + ".partial-");
        int items;
        try {
            items = writeInto(dir, split.getFileName().toString(), source, n, rng);
            if (Files.exists(split)) {
                Path old = Files.createTempDirectory(split.getParent(), split.getFileName() + ".replaced-");
                Files.move(split, old.resolve("split"), StandardCopyOption.ATOMIC_MOVE);
                try {
                    Files.move(dir, split, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    Files.move(old.resolve("split"), split, StandardCopyOption.ATOMIC_MOVE);
                    throw e;
                }
                deleteTree(old);
            } else {
                Files.move(dir, split, StandardCopyOption.ATOMIC_MOVE);
            }
        } finally {
            if (Files.exists(dir)) deleteTree(dir);
        }
        System.out.println(split + ": " + n + " scenes, " + items + " items");
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }

    /** Writes n scenes into dir; returns how many items they hold. */
    private int writeInto(Path dir, String label, ImageDataset source, int n, SplittableRandom rng) throws IOException {
        Files.createDirectories(dir.resolve("images"));
        Files.createDirectories(dir.resolve("masks"));
        List<CocoDataset.Category> cats = new ArrayList<>();
        for (int c = 0; c < ImageDataset.FASHION_CLASSES.length; c++) cats.add(new CocoDataset.Category(c + 1, ImageDataset.FASHION_CLASSES[c]));
        List<CocoDataset.Image> images = new ArrayList<>();
        List<CocoDataset.Annotation> anns = new ArrayList<>();
        java.util.Map<Long, List<String>> captions = new java.util.LinkedHashMap<>();
        Progress progress = new Progress(System.out);
        long t0 = System.nanoTime();
        long annId = 1;
        for (int i = 0; i < n; i++) {
            Scenes.Scene s = Scenes.draw(source, rng, size, maxItems, scale);
            String name = String.format("%06d.png", i + 1);
            ImageFiles.writeGrey(i2b(s.pixels()), s.size(), s.size(), dir.resolve("images").resolve(name));
            byte[] sem = new byte[s.semantic().length];
            for (int k = 0; k < sem.length; k++) sem[k] = (byte) s.semantic()[k];
            ImageFiles.writeGrey(sem, s.size(), s.size(), dir.resolve("masks").resolve(name));
            images.add(new CocoDataset.Image(i + 1, name, s.size(), s.size()));
            captions.put(i + 1L, SceneCaptions.captions(s));
            for (Scenes.Item it : s.items())
                anns.add(new CocoDataset.Annotation(annId++, i + 1, it.label() + 1, it.box(),
                        new CocoDataset.RleMask(Rle.encode(it.mask(), s.size(), s.size())), false));
            progress.update("scenes " + label, i + 1, n, i + 1, (System.nanoTime() - t0) / 1e9, Double.NaN);
        }
        progress.finish();
        CocoDataset coco = new CocoDataset(dir.resolve("annotations.json"), dir.resolve("images"), cats, images, anns);
        Files.writeString(dir.resolve("annotations.json"), coco.toJson(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("captions.json"), new CocoCaptions(dir.resolve("captions.json"), images, captions).toJson(), StandardCharsets.UTF_8);
        return anns.size();
    }

    private static byte[] i2b(float[] v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) Math.round(Math.max(0f, Math.min(1f, v[i])) * 255f);
        return b;
    }
}
