package dev.fovea.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.apache.spark.sql.functions.col;

/**
 * The Spark job: {@code spark-submit --class dev.fovea.spark.ScoreImages fovea-spark.jar MODEL INPUT OUTPUT [--top K]
 * [--batch N] [--ship] [--overwrite]} scores every image file under INPUT (PNG, JPEG, GIF, BMP; sub-folders too) with
 * MODEL and writes the predictions as Parquet to OUTPUT, one row per image with its path. An OUTPUT that exists is
 * refused unless --overwrite. Last line: {@code scored images=N errors=E seconds=S images_per_s=X out=OUTPUT}.
 */
public final class ScoreImages {
    private ScoreImages() {}

    static final String USAGE = "usage: ScoreImages MODEL INPUT OUTPUT [--top K] [--batch N] [--ship] [--overwrite]";

    /**
     * A user's error (a missing or unreadable model, a missing input, an output that exists) is one line and exit 2;
     * anything else is a bug.
     */
    public static void main(String[] args) throws Exception {
        int rc;
        try {
            rc = run(args);
        } catch (Exception e) {
            // Spark's AnalysisException (a path that does not exist, ...) is checked to Java but undeclared by Scala
            if (!(e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException || e instanceof org.apache.spark.sql.AnalysisException))
                throw e;
            System.err.println("fovea-spark: error: " + e.getMessage());
            rc = 2;
        }
        System.exit(rc);
    }

    /** Runs the job in the session spark-submit made (or local[*] when there is none); the exit code. */
    static int run(String[] args) {
        List<String> pos = new ArrayList<>();
        boolean overwrite = false;
        int top = 5, batch = 64;
        boolean ship = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--top" -> top = intArg(args, ++i, "--top");
                case "--batch" -> batch = intArg(args, ++i, "--batch");
                case "--ship" -> ship = true;
                case "--overwrite" -> overwrite = true;
                default -> {
                    if (args[i].startsWith("--")) throw new IllegalArgumentException("unknown option " + args[i] + "; " + USAGE);
                    pos.add(args[i]);
                }
            }
        }
        if (pos.size() != 3) throw new IllegalArgumentException(USAGE);
        String model = pos.get(0), input = pos.get(1), output = pos.get(2);
        SparkSession spark = SparkSession.builder().appName("fovea score-images").master(System.getProperty("spark.master", "local[*]")).getOrCreate();
        long t0 = System.nanoTime();
        Dataset<Row> images = readImages(spark, input);
        Dataset<Row> scored = ImageScorer.builder(model).top(top).batch(batch).ship(ship).build().score(images);
        scored.write().mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists).parquet(output);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Dataset<Row> written = spark.read().parquet(output);
        long n = written.count(), errors = written.filter(col("error").isNotNull()).count();
        System.out.printf(Locale.ROOT, "scored images=%d errors=%d seconds=%.1f images_per_s=%.1f out=%s%n", n, errors, seconds, n / seconds, output);
        return 0;
    }

    /** Cost Spark counts for opening a file when it packs files into partitions, unless the session sets its own. */
    static final long OPEN_COST = 64 * 1024;

    /**
     * The image files under {@code input} (sub-folders too) as Spark's binaryFile rows. Spark's default open cost (4 MB,
     * made for large columnar files) packs 32 small images into a task; counted as 64 KB, a core's share of the files
     * is one task.
     */
    static Dataset<Row> readImages(SparkSession spark, String input) {
        if (!spark.conf().contains("spark.sql.files.openCostInBytes")) spark.conf().set("spark.sql.files.openCostInBytes", OPEN_COST);
        return spark.read().format("binaryFile").option("recursiveFileLookup", "true")
                .option("pathGlobFilter", "*.{png,PNG,jpg,JPG,jpeg,JPEG,gif,GIF,bmp,BMP}").load(input);
    }

    private static int intArg(String[] args, int i, String name) {
        if (i >= args.length) throw new IllegalArgumentException(name + " needs a number");
        try {
            return Integer.parseInt(args[i]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " needs a number, got " + args[i]);
        }
    }
}
