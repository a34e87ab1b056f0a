package dev.fovea.spark;

import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.inference.ImageCaptioner;
import dev.fovea.inference.ImageClassifier;
import dev.fovea.inference.Predictor;
import dev.fovea.inference.SceneDetector;
import dev.fovea.tasks.DenseGrid;
import dev.fovea.tasks.Task;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Scores a Spark DataFrame of images with a Fovea model, adding prediction columns: the images come from Spark's
 * {@code binaryFile} source (column {@code content}), its {@code image} source (column {@code image}) or a column of
 * paths ({@code path}). The model is loaded once per executor JVM and shared by its tasks; each partition's images go
 * through it in batches; the executor's backend has as many threads as the executor has cores.
 *
 * <pre>{@code
 * Dataset<Row> images = spark.read().format("binaryFile").load("photos/");
 * Dataset<Row> scored = ImageScorer.builder("/models/lenet5.safetensors").top(3).build().score(images);
 * }</pre>
 *
 * Columns added, by the model's family:
 * <ul>
 *   <li>classifier: {@code label} (string), {@code probability} (float), {@code top_k} (array of {@code label},
 *       {@code probability});
 *   <li>scene model: {@code detections} (array of {@code label}, {@code score}, {@code box} [x0, y0, x1, y1] in the
 *       model's input pixels) and {@code segments} (array of {@code label}, {@code pixels}; segmentation only);
 *   <li>captioner: {@code caption};
 * </ul>
 * and {@code error}: null, or why this row's image could not be scored (an unreadable file, say), whose prediction
 * columns are then null: one bad image does not fail the job. The input's {@code content} and {@code image} columns
 * are left out of the result (they hold the encoded images); every other input column is kept.
 */
public final class ImageScorer implements Serializable {
    private final String model;
    private final boolean ship;
    private final int top, batch;

    private ImageScorer(Builder b) {
        this.model = b.model;
        this.ship = b.ship;
        this.top = b.top;
        this.batch = b.batch;
    }

    public static Builder builder(String model) { return new Builder(model); }

    public static final class Builder {
        private final String model;
        private boolean ship;
        private int top = 5, batch = 64;

        private Builder(String model) { this.model = model; }

        /** Classes in {@code top_k} (default 5). */
        public Builder top(int k) {
            if (k < 1) throw new IllegalArgumentException("top must be >= 1, got " + k);
            top = k;
            return this;
        }

        /** Images a model call takes within a partition (default 64). */
        public Builder batch(int n) {
            if (n < 1) throw new IllegalArgumentException("batch must be >= 1, got " + n);
            batch = n;
            return this;
        }

        /**
         * Ship the model from the driver to every executor ({@code SparkContext.addFile}) instead of reading it from a
         * path every executor can read (the default: a shared file system, or local mode).
         */
        public Builder ship(boolean s) {
            ship = s;
            return this;
        }

        public ImageScorer build() { return new ImageScorer(this); }
    }

    /** How the model answers: the columns it adds. */
    enum Family { CLASSIFY, SCENE, CAPTION }

    static final StructType LABEL = new StructType().add("label", DataTypes.StringType).add("probability", DataTypes.FloatType);
    static final StructType DETECTION = new StructType().add("label", DataTypes.StringType).add("score", DataTypes.DoubleType)
            .add("box", DataTypes.createArrayType(DataTypes.DoubleType, false));
    static final StructType SEGMENT = new StructType().add("label", DataTypes.StringType).add("pixels", DataTypes.IntegerType);

    /**
     * The scored DataFrame (lazy, as Spark's transformations are). The model is loaded on the driver first, so a
     * missing or unreadable model fails here, with its path and the reason, before any task runs.
     */
    public Dataset<Row> score(Dataset<Row> images) {
        SparkSession spark = images.sparkSession();
        Path local = Path.of(model);
        if (!Files.exists(local)) throw new IllegalArgumentException(model + ": no such model (a checkpoint fovea train wrote, or a timm folder)");
        int cores = executorCores(spark);
        Family family = switch (ExecutorModels.get(local, cores)) {
            case ImageClassifier c -> Family.CLASSIFY;
            case SceneDetector d -> Family.SCENE;
            case ImageCaptioner c -> Family.CAPTION;
            default -> throw new IllegalArgumentException(model + ": a generator draws images, it does not score them");
        };
        String name = local.toAbsolutePath().normalize().toString();
        if (ship) {
            spark.sparkContext().addFile(name, Files.isDirectory(local));
            name = local.getFileName().toString();
        }
        StructType in = images.schema();
        Input input = Input.of(in);
        List<Integer> kept = new ArrayList<>();
        StructType out = new StructType();
        for (int i = 0; i < in.fields().length; i++) {
            String f = in.fields()[i].name();
            if (f.equals("content") || f.equals("image")) continue;
            kept.add(i);
            out = out.add(in.fields()[i]);
        }
        out = switch (family) {
            case CLASSIFY -> out.add("label", DataTypes.StringType).add("probability", DataTypes.FloatType)
                    .add("top_k", DataTypes.createArrayType(LABEL, false));
            case SCENE -> out.add("detections", DataTypes.createArrayType(DETECTION, false)).add("segments", DataTypes.createArrayType(SEGMENT, false));
            case CAPTION -> out.add("caption", DataTypes.StringType);
        };
        out = out.add("error", DataTypes.StringType);
        return images.mapPartitions(new Score(name, ship, family, top, batch, cores, input, kept.stream().mapToInt(Integer::intValue).toArray()),
                Encoders.row(out));
    }

    /** Cores of an executor: spark.executor.cores, else N of a local[N] master, else this machine's. */
    static int executorCores(SparkSession spark) {
        var conf = spark.sparkContext().getConf();
        if (conf.contains("spark.executor.cores")) return conf.getInt("spark.executor.cores", 1);
        var m = java.util.regex.Pattern.compile("local\\[(\\d+)(,\\d+)?]").matcher(spark.sparkContext().master());
        return m.matches() ? Integer.parseInt(m.group(1)) : Runtime.getRuntime().availableProcessors();
    }

    /** Which column holds the image, and of which kind; which names it in errors. */
    record Input(int column, Kind kind, int source) implements Serializable {
        enum Kind { BYTES, IMAGE, PATH }

        static Input of(StructType s) {
            List<String> names = List.of(s.fieldNames());
            int path = names.indexOf("path");
            if (names.contains("content") && s.apply("content").dataType() instanceof BinaryType) return new Input(names.indexOf("content"), Kind.BYTES, path);
            if (names.contains("image") && s.apply("image").dataType() instanceof StructType) return new Input(names.indexOf("image"), Kind.IMAGE, -1);
            if (path >= 0 && s.apply("path").dataType() instanceof StringType) return new Input(path, Kind.PATH, path);
            throw new IllegalArgumentException("no image column: expected \"content\" (binary, as the binaryFile source gives), \"image\" (the image source's struct)"
                    + " or \"path\" (string); the columns are " + names);
        }

        String source(Row r) {
            if (kind == Kind.IMAGE) return r.getStruct(column).getAs("origin");
            return source >= 0 && !r.isNullAt(source) ? r.getString(source) : "row";
        }

        BufferedImage image(Row r) throws IOException {
            if (r.isNullAt(column)) throw new IOException(source(r) + ": no image (null)");
            return switch (kind) {
                case BYTES -> Images.decode((byte[]) r.get(column), source(r));
                case IMAGE -> SparkImages.toImage(r.getStruct(column));
                case PATH -> Images.decode(readAll(r.getString(column)), r.getString(column));
            };
        }

        /** A local path or file: URI through java.nio; anything else (hdfs:, s3a:) through Hadoop's file systems. */
        private static byte[] readAll(String path) throws IOException {
            URI uri = URI.create(path.replace(" ", "%20"));
            if (uri.getScheme() == null) return Files.readAllBytes(Path.of(path));
            if (uri.getScheme().equals("file")) return Files.readAllBytes(Path.of(uri));
            var p = new org.apache.hadoop.fs.Path(path);
            try (InputStream in = p.getFileSystem(new org.apache.hadoop.conf.Configuration()).open(p)) {
                return in.readAllBytes();
            }
        }
    }

    /** One partition: rows in, rows with predictions out, a batch at a time. */
    record Score(String model, boolean shipped, Family family, int top, int batch, int cores, Input input, int[] kept)
            implements MapPartitionsFunction<Row, Row> {
        @Override public Iterator<Row> call(Iterator<Row> rows) {
            Predictor p = ExecutorModels.get(Path.of(shipped ? SparkFiles.get(model) : model), cores);
            Preprocessing pre = switch (p) {
                case ImageClassifier c -> c.preprocessing();
                case SceneDetector d -> d.preprocessing();
                case ImageCaptioner c -> c.preprocessing();
                default -> throw new IllegalStateException(p.describe());
            };
            return new Iterator<>() {
                final ArrayDeque<Row> ready = new ArrayDeque<>();

                @Override public boolean hasNext() {
                    if (ready.isEmpty() && rows.hasNext()) ready.addAll(scoreBatch(p, pre, rows));
                    return !ready.isEmpty();
                }

                @Override public Row next() {
                    if (!hasNext()) throw new NoSuchElementException();
                    return ready.poll();
                }
            };
        }

        private List<Row> scoreBatch(Predictor p, Preprocessing pre, Iterator<Row> rows) {
            List<Row> batchRows = new ArrayList<>();
            List<Object> prepared = new ArrayList<>();          // a Preprocessing.Input, or the error's message
            while (batchRows.size() < batch && rows.hasNext()) {
                Row r = rows.next();
                batchRows.add(r);
                try {
                    prepared.add(pre.prepare(input.image(r)));
                } catch (IOException | RuntimeException e) {
                    prepared.add(e.getMessage() != null ? e.getMessage() : e.toString());
                }
            }
            List<Preprocessing.Input> good = new ArrayList<>();
            for (Object o : prepared) if (o instanceof Preprocessing.Input i) good.add(i);
            List<Object[]> answers = predict(p, good);
            List<Row> out = new ArrayList<>();
            int g = 0;
            for (int i = 0; i < batchRows.size(); i++) {
                Object[] answer = prepared.get(i) instanceof String error ? failed(error) : answers.get(g++);
                Object[] values = new Object[kept.length + answer.length];
                for (int k = 0; k < kept.length; k++) values[k] = batchRows.get(i).get(kept[k]);
                System.arraycopy(answer, 0, values, kept.length, answer.length);
                out.add(RowFactory.create(values));
            }
            return out;
        }

        /** The prediction columns (and a null error) of each image. */
        private List<Object[]> predict(Predictor p, List<Preprocessing.Input> inputs) {
            List<Object[]> out = new ArrayList<>();
            if (inputs.isEmpty()) return out;
            switch (p) {
                case ImageClassifier c -> {
                    for (List<ImageClassifier.Label> labels : c.classifyInputs(inputs.stream().map(Preprocessing.Input::input).toList(), top)) {
                        List<Row> topK = labels.stream().map(l -> RowFactory.create(l.name(), l.probability())).toList();
                        out.add(new Object[]{labels.getFirst().name(), labels.getFirst().probability(), seq(topK), null});
                    }
                }
                case SceneDetector d -> {
                    List<String> names = d.names();
                    for (SceneDetector.Scene s : d.detect(inputs, d.task())) {
                        List<Row> dets = new ArrayList<>();
                        for (DenseGrid.Detection det : s.detections())
                            dets.add(RowFactory.create(names.get(det.cls()), det.score(), seq(List.of(det.box()[0], det.box()[1], det.box()[2], det.box()[3]))));
                        List<Row> segments = new ArrayList<>();
                        if (s.labelMap() != null && s.task() == Task.SEGMENT) {
                            int[] count = new int[names.size() + 1];
                            for (int l : s.labelMap()) count[l]++;
                            for (int j = 1; j < count.length; j++) if (count[j] > 0) segments.add(RowFactory.create(names.get(j - 1), count[j]));
                        }
                        out.add(new Object[]{seq(dets), seq(segments), null});
                    }
                }
                case ImageCaptioner c -> {
                    for (String caption : c.caption(inputs)) out.add(new Object[]{caption, null});
                }
                default -> throw new IllegalStateException(p.describe());
            }
            return out;
        }

        /** An array column's value as Spark's Row encoder takes it: a Scala sequence. */
        private static scala.collection.immutable.Seq<Object> seq(List<?> list) {
            return scala.jdk.javaapi.CollectionConverters.asScala(new ArrayList<Object>(list)).toList();
        }

        private Object[] failed(String error) {
            return switch (family) {
                case CLASSIFY -> new Object[]{null, null, null, error};
                case SCENE -> new Object[]{null, null, error};
                case CAPTION -> new Object[]{null, error};
            };
        }
    }
}
