package dev.fovea.spark;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Backends;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.coco.CocoDataset;
import dev.fovea.inference.ImageCaptioner;
import dev.fovea.inference.ImageClassifier;
import dev.fovea.inference.SceneDetector;
import dev.fovea.models.Captioner;
import dev.fovea.models.SceneNet;
import dev.fovea.tasks.CaptionTask;
import dev.fovea.tasks.DenseGrid;
import dev.fovea.tasks.SceneTask;
import dev.fovea.tasks.Task;
import dev.fovea.tasks.TaskSpec;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.Checkpoint;
import dev.fovea.models.LeNet5;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Spark job on local[2]: a folder of Fashion-MNIST test images (as they are, and as colour photos of another size)
 * and one corrupt file, scored through Spark's binaryFile and image sources and a column of paths, against the
 * single-JVM classifier {@code fovea predict} uses.
 */
class ImageScorerTest {
    @TempDir static Path tmp;
    static SparkSession spark;
    static Path model, images;
    static final int PLAIN = 24, PHOTOS = 4;

    @BeforeAll static void setUp() throws Exception {
        ImageDataset.Splits data = ImageDataset.embeddedSample();
        ImageDataset train = data.train(), small = new ImageDataset("first 1000", 1000, 28, 28, Arrays.copyOf(train.pixels(), 1000 * 784),
                Arrays.copyOf(train.labels(), 1000), train.classes(), train.names());
        TrainConfig cfg = TrainConfig.builder("lenet5").epochs(1).build();
        try (Backend cpu = Backends.open("cpu", BackendOptions.defaults().withThreads(2));
             LeNet5 net = LeNet5.create(cpu, LeNet5.Variant.PAPER, cfg.seed()); Optimizer opt = cfg.newOptimizer(cpu, net)) {
            model = new Trainer<>(cpu, net, opt, cfg, new ClassificationTask(cpu, net, cfg, small, data.test()))
                    .fit(tmp.resolve("run"), 0, Trainer.Listener.SILENT).checkpoint();
        }
        images = Files.createDirectories(tmp.resolve("images"));
        ImageDataset test = data.test();
        for (int i = 0; i < PLAIN + PHOTOS; i++) {
            BufferedImage img;
            if (i < PLAIN) {
                img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
                img.getRaster().setDataElements(0, 0, 28, 28, Arrays.copyOfRange(test.pixels(), i * 784, (i + 1) * 784));
            } else {                                  // a "photo": dark on light, colour, 56x40
                img = new BufferedImage(56, 40, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 40; y++)
                    for (int x = 0; x < 56; x++) {
                        int v = 255 - (test.pixels()[i * 784 + Math.min(27, y * 28 / 40) * 28 + Math.min(27, x / 2)] & 0xff);
                        img.setRGB(x, y, v << 16 | v << 8 | Math.min(255, v + 20));
                    }
            }
            ImageIO.write(img, "png", images.resolve(String.format("%03d.png", i)).toFile());
        }
        Files.writeString(images.resolve("broken.png"), "not an image");
        spark = SparkSession.builder().master("local[2]").appName("fovea-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll static void tearDown() {
        if (spark != null) spark.stop();
    }

    /** path → row of the scored frame. */
    static Map<String, Row> byPath(Dataset<Row> scored) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : scored.collectAsList()) m.put(Path.of(java.net.URI.create(r.getAs("path"))).toString(), r);
        return m;
    }

    /** Each good image's answer equals the single-JVM classifier's: the same classes, probabilities to float rounding. */
    static void sameAsOneJvm(Map<String, Row> rows) throws Exception {
        try (Backend cpu = Backends.open("cpu", BackendOptions.defaults().withThreads(2)); ImageClassifier c = ImageClassifier.load(cpu, model)) {
            for (int i = 0; i < PLAIN + PHOTOS; i++) {
                Path f = images.resolve(String.format("%03d.png", i));
                Row r = rows.get(f.toString());
                assertNotNull(r, f + " was not scored");
                assertNull(r.getAs("error"), f.toString());
                List<ImageClassifier.Label> want = c.classify(f, 3);
                assertEquals(want.getFirst().name(), r.getAs("label"), f.toString());
                assertEquals(want.getFirst().probability(), (float) r.getAs("probability"), 1e-5, f.toString());
                List<Row> topK = r.getList(r.fieldIndex("top_k"));
                assertEquals(3, topK.size());
                for (int k = 0; k < 3; k++) {
                    assertEquals(want.get(k).name(), topK.get(k).getString(0), f + " top " + k);
                    assertEquals(want.get(k).probability(), topK.get(k).getFloat(1), 1e-5, f + " top " + k);
                }
            }
        }
    }

    @Test void binaryFilesAreScoredAsOneJvmScoresThemAndACorruptOneIsARowWithItsError() throws Exception {
        Dataset<Row> files = spark.read().format("binaryFile").load(images.toString()).repartition(3);
        Dataset<Row> scored = ImageScorer.builder(model.toString()).top(3).batch(8).build().score(files);
        assertEquals(List.of("path", "modificationTime", "length", "label", "probability", "top_k", "error"), List.of(scored.schema().fieldNames()));
        Map<String, Row> rows = byPath(scored);
        assertEquals(PLAIN + PHOTOS + 1, rows.size());
        sameAsOneJvm(rows);
        Row broken = rows.get(images.resolve("broken.png").toString());
        assertNull(broken.getAs("label"));
        String error = broken.getAs("error");
        assertTrue(error.contains("broken.png: unreadable image"), error);
    }

    @Test void aColumnOfPathsAndTheImageSourceGiveTheSameAnswers() throws Exception {
        List<Row> paths = new java.util.ArrayList<>();
        for (int i = 0; i < PLAIN + PHOTOS; i++) paths.add(org.apache.spark.sql.RowFactory.create(images.resolve(String.format("%03d.png", i)).toUri().toString()));
        Dataset<Row> byPathFrame = spark.createDataFrame(paths, new org.apache.spark.sql.types.StructType().add("path", "string"));
        sameAsOneJvm(byPath(ImageScorer.builder(model.toString()).top(3).ship(true).build().score(byPathFrame)));

        Dataset<Row> decoded = spark.read().format("image").option("dropInvalid", "true").load(images.toString());
        Map<String, Row> labels = new HashMap<>();
        for (Row r : ImageScorer.builder(model.toString()).top(3).build().score(decoded).collectAsList()) labels.put(r.getAs("label"), r);
        assertEquals(0, labels.values().stream().filter(r -> r.getAs("error") != null).count());
        // the image source keeps no path column; its rows hold what the files hold, so the classes agree with the files'
        Map<String, Row> files = byPath(ImageScorer.builder(model.toString()).top(3).build().score(spark.read().format("binaryFile").load(images.toString())));
        List<String> a = decodedLabels(decoded), b = files.values().stream().filter(r -> r.getAs("error") == null).map(r -> (String) r.getAs("label")).sorted().toList();
        assertEquals(b, a);
    }

    List<String> decodedLabels(Dataset<Row> decoded) {
        return ImageScorer.builder(model.toString()).top(3).build().score(decoded).collectAsList().stream().map(r -> (String) r.getAs("label")).sorted().toList();
    }

    @Test void sceneModelsAndCaptionersAddTheirColumns() throws Exception {
        // untrained models, saved as fovea train saves them: what is checked is that the rows carry the single-JVM
        // answers (one image a model call on both sides, so the same arithmetic, so equal to the bit)
        Path scene = tmp.resolve("scene.safetensors"), captioner = tmp.resolve("caption.safetensors");
        try (Backend cpu = Backends.open("cpu", BackendOptions.defaults().withThreads(2))) {
            SceneNet.Config sc = new SceneNet.Config(16, 1, 2, 16, 1, 2, true, true, false);
            TaskSpec spec = new TaskSpec(Task.INSTANCE, sc, List.of(new CocoDataset.Category(1, "bag"), new CocoDataset.Category(4, "coat")), 0.2f, 0.3f);
            TrainConfig cfg = SceneTask.defaults(Task.INSTANCE).build();
            try (SceneNet net = new SceneNet(cpu, sc, 7); Optimizer opt = cfg.newOptimizer(cpu, net)) {
                Checkpoint.save(scene, net, opt, cfg, 1, 1, List.of(), spec.toMetadata());
            }
            Vocabulary v = Vocabulary.build(List.of("a bag at the top", "a coat at the top", "a bag at the left"), 1);
            Captioner.Config cc = new Captioner.Config(16, 1, 16, 1, 2, 1, v.size(), 8);
            TrainConfig ccfg = TrainConfig.builder(CaptionTask.MODEL).build();
            try (Captioner net = new Captioner(cpu, cc, 7); Optimizer opt = ccfg.newOptimizer(cpu, net)) {
                Checkpoint.save(captioner, net, opt, ccfg, 1, 1, List.of(), CaptionTask.metadata(cc, v, new float[]{0.2f, 0.3f}));
            }
            Dataset<Row> files = spark.read().format("binaryFile").option("pathGlobFilter", "00[0-5].png").load(images.toString());
            Map<String, Row> detected = byPath(ImageScorer.builder(scene.toString()).batch(1).build().score(files));
            Map<String, Row> captioned = byPath(ImageScorer.builder(captioner.toString()).batch(1).build().score(files));
            assertEquals(6, detected.size());
            try (SceneDetector d = SceneDetector.load(cpu, scene); ImageCaptioner c = ImageCaptioner.load(cpu, captioner)) {
                int boxes = 0;
                for (int i = 0; i < 6; i++) {
                    Path f = images.resolve(String.format("%03d.png", i));
                    List<DenseGrid.Detection> want = d.detect(f).detections();
                    List<Row> got = detected.get(f.toString()).getList(detected.get(f.toString()).fieldIndex("detections"));
                    assertEquals(want.size(), got.size(), f.toString());
                    boxes += got.size();
                    for (int k = 0; k < want.size(); k++) {
                        assertEquals(d.names().get(want.get(k).cls()), got.get(k).getString(0), f + " detection " + k);
                        assertEquals(want.get(k).score(), got.get(k).getDouble(1), f + " detection " + k);
                        assertEquals(Arrays.stream(want.get(k).box()).boxed().toList(), got.get(k).getList(2), f + " detection " + k);
                    }
                    assertEquals(c.caption(f), captioned.get(f.toString()).getAs("caption"), f.toString());
                }
                assertTrue(boxes > 0, "the untrained detector finds something to compare");
            }
        }
    }

    @Test void aMissingModelFailsBeforeAnyTask() {
        Dataset<Row> files = spark.read().format("binaryFile").load(images.toString());
        var e = assertThrows(IllegalArgumentException.class, () -> ImageScorer.builder(tmp.resolve("none.safetensors").toString()).build().score(files));
        assertEquals(tmp.resolve("none.safetensors") + ": no such model (a checkpoint fovea train wrote, or a timm folder)", e.getMessage());
        var cols = assertThrows(IllegalArgumentException.class, () -> ImageScorer.builder(model.toString()).build().score(spark.range(3).toDF()));
        assertTrue(cols.getMessage().startsWith("no image column: expected \"content\""), cols.getMessage());
    }

    @Test void theJobWritesParquetAndNeverReplacesAnOutputUnasked() throws Exception {
        Path out = tmp.resolve("scored.parquet");
        assertEquals(0, ScoreImages.run(new String[]{model.toString(), images.toString(), out.toString(), "--top", "2"}));
        Dataset<Row> written = spark.read().parquet(out.toString());
        assertEquals(PLAIN + PHOTOS + 1, written.count());
        assertEquals(1, written.filter("error is not null").count());
        var again = assertThrows(Exception.class, () -> ScoreImages.run(new String[]{model.toString(), images.toString(), out.toString()}));
        assertTrue(again.getMessage().contains("already exists"), again.getMessage());
        assertEquals(PLAIN + PHOTOS + 1, spark.read().parquet(out.toString()).count(), "the first output is intact");
        assertEquals(0, ScoreImages.run(new String[]{model.toString(), images.toString(), out.toString(), "--overwrite"}));
    }
}
