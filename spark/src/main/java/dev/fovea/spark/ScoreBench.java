package dev.fovea.spark;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Backends;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.Images;
import dev.fovea.inference.ImageClassifier;
import org.apache.spark.sql.SparkSession;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * What Spark adds: {@code ScoreBench MODEL DIR [--cores N] [--repeats R] [--write-fashion COUNT]} scores every PNG in
 * DIR with a classifier in this JVM alone (the files read, decoded, preprocessed and classified in batches of 64 on a
 * backend of N threads, as {@code fovea predict} does) and as the Spark job on {@code local[N]} (binaryFile source,
 * the scorer, a no-op sink), alternating which runs first, after a warm-up of each; medians of R repeats.
 * {@code --write-fashion COUNT} first writes the first COUNT Fashion-MNIST test images into DIR as PNGs. Last line:
 * {@code spark_bench images=N cores=C single_jvm=X spark=Y images/s ratio=Y/X}.
 */
public final class ScoreBench {
    private ScoreBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) throw new IllegalArgumentException("usage: ScoreBench MODEL DIR [--cores N] [--repeats R] [--write-fashion COUNT]");
        Path model = Path.of(args[0]), dir = Path.of(args[1]);
        int cores = 2, repeats = 5, write = 0;
        for (int i = 2; i + 1 < args.length; i += 2)
            switch (args[i]) {
                case "--cores" -> cores = Integer.parseInt(args[i + 1]);
                case "--repeats" -> repeats = Integer.parseInt(args[i + 1]);
                case "--write-fashion" -> write = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        if (write > 0) writeFashion(dir, write);
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) { files = s.filter(p -> p.toString().endsWith(".png")).sorted().toList(); }
        if (files.isEmpty()) throw new IllegalArgumentException(dir + ": no PNG files (--write-fashion COUNT writes some)");

        SparkSession spark = SparkSession.builder().master("local[" + cores + "]").appName("fovea score-bench").config("spark.ui.enabled", "false").getOrCreate();
        try (Backend cpu = Backends.open("cpu", BackendOptions.defaults().withThreads(cores)); ImageClassifier c = ImageClassifier.load(cpu, model)) {
            ImageScorer scorer = ImageScorer.builder(model.toString()).top(3).build();
            double[] single = new double[repeats], viaSpark = new double[repeats];
            singleJvm(c, files);
            sparkJob(spark, scorer, dir);                                                 // warm-up: both sides compiled
            for (int r = 0; r < repeats; r++) {
                boolean sparkFirst = r % 2 == 1;
                if (sparkFirst) viaSpark[r] = sparkJob(spark, scorer, dir);
                single[r] = singleJvm(c, files);
                if (!sparkFirst) viaSpark[r] = sparkJob(spark, scorer, dir);
                System.out.printf(Locale.ROOT, "repeat %d: single JVM %.1f images/s, Spark %.1f images/s%n", r + 1, files.size() / single[r], files.size() / viaSpark[r]);
            }
            double a = files.size() / median(single), b = files.size() / median(viaSpark);
            System.out.printf(Locale.ROOT, "spark_bench images=%d cores=%d single_jvm=%.1f spark=%.1f images/s ratio=%.3f%n", files.size(), cores, a, b, b / a);
        } finally {
            spark.stop();
        }
    }

    /** Seconds to read, decode, preprocess and classify every file in this JVM. */
    static double singleJvm(ImageClassifier c, List<Path> files) throws IOException {
        long t0 = System.nanoTime();
        List<float[]> inputs = new ArrayList<>();
        for (Path f : files) {
            inputs.add(c.preprocessing().prepare(Images.read(f)).input());
            if (inputs.size() == 64) { c.classifyInputs(inputs, 3); inputs.clear(); }
        }
        if (!inputs.isEmpty()) c.classifyInputs(inputs, 3);
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Seconds for the Spark job over the folder (read as ScoreImages reads it), its results computed and dropped (the no-op sink). */
    static double sparkJob(SparkSession spark, ImageScorer scorer, Path dir) {
        long t0 = System.nanoTime();
        scorer.score(ScoreImages.readImages(spark, dir.toString())).write().format("noop").mode("overwrite").save();
        return (System.nanoTime() - t0) / 1e9;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static void writeFashion(Path dir, int count) throws IOException {
        ImageDataset test = ImageDataset.resolveTest(null);
        Files.createDirectories(dir);
        for (int i = 0; i < Math.min(count, test.count()); i++) {
            BufferedImage img = new BufferedImage(test.width(), test.height(), BufferedImage.TYPE_BYTE_GRAY);
            img.getRaster().setDataElements(0, 0, test.width(), test.height(), Arrays.copyOfRange(test.pixels(), i * test.imageSize(), (i + 1) * test.imageSize()));
            ImageIO.write(img, "png", dir.resolve(String.format("%05d.png", i)).toFile());
        }
    }
}
