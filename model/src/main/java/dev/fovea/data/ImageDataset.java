package dev.fovea.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Labelled grey images as unsigned bytes: [count, height, width] pixels and [count] labels, as MNIST and
 * Fashion-MNIST ship them. Normalisation to floats happens per batch.
 *
 * @param names the classes' names in label order, or null when the data does not name them
 */
public record ImageDataset(String source, int count, int height, int width, byte[] pixels, byte[] labels, int classes, List<String> names) {
    /** Data whose classes have no names. */
    public ImageDataset(String source, int count, int height, int width, byte[] pixels, byte[] labels, int classes) {
        this(source, count, height, width, pixels, labels, classes, null);
    }

    public ImageDataset {
        if (names != null) names = List.copyOf(names);
    }

    /** The same images and labels under other class names. */
    public ImageDataset named(List<String> n) { return new ImageDataset(source, count, height, width, pixels, labels, classes, n); }

    /** Names for a model of {@code classes} outputs: the data's own when it has that many, else "class 0", "class 1", ... */
    public List<String> labelNames(int classes) {
        return names != null && names.size() == classes ? names : ClassNames.numbered(classes);
    }

    /** The file in a data folder that names its classes, one per line in label order. */
    public static final String LABELS_FILE = "labels.txt";

    /** Fashion-MNIST's class names in label order. */
    public static final String[] FASHION_CLASSES = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
            "Sneaker", "Bag", "Ankle boot"};
    /** Debian's dataset-fashion-mnist installs here. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** Mean and standard deviation of Fashion-MNIST's training pixels (scaled to [0, 1]). */
    public static final float MEAN = 0.2860f, STD = 0.3530f;

    public int imageSize() { return height * width; }

    public int label(int i) { return labels[i] & 0xff; }

    /**
     * Whether augmentation may mirror images of class {@code label} left to right: with Fashion-MNIST's class names,
     * every class but its footwear (all ankle boots and 99.7 % of sneakers face one way; a mirrored shoe is an image the
     * test set never shows); for data named otherwise or not at all, none (a mirrored digit or letter is another
     * glyph).
     */
    public boolean mirrorable(int label) {
        return names != null && names.equals(FASHION_NAMES) && !FASHION_ONE_WAY.contains(label);
    }

    private static final List<String> FASHION_NAMES = List.of(FASHION_CLASSES);
    /** Fashion-MNIST's Sandal, Sneaker and Ankle boot. */
    private static final java.util.Set<Integer> FASHION_ONE_WAY = java.util.Set.of(5, 7, 9);

    /**
     * How an image file becomes one of this data's inputs: grey, this size, normalised with {@link #MEAN} and
     * {@link #STD}, inverted when its border is light (the objects here are light on a dark background).
     */
    public Preprocessing preprocessing() { return preprocessing(height, width); }

    /** {@link #preprocessing()} for images of {@code height × width}. */
    public static Preprocessing preprocessing(int height, int width) {
        return new Preprocessing(1, height, width, new float[]{MEAN}, new float[]{STD}, Resample.Filter.BICUBIC, 1.0, Preprocessing.Invert.AUTO);
    }

    /** Pixel values of image i normalised as (p/255 − MEAN)/STD into dst at offset. */
    public void normalized(int i, float[] dst, int offset) {
        int n = imageSize(), base = i * n;
        for (int j = 0; j < n; j++) dst[offset + j] = ((pixels[base + j] & 0xff) / 255f - MEAN) / STD;
    }

    /** The training and test splits of an MNIST-format directory. */
    public record Splits(ImageDataset train, ImageDataset test, String description) {}

    /**
     * Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from a directory; the classes' names from its
     * {@value #LABELS_FILE} if it has one, else Fashion-MNIST's for the default directory.
     */
    public static Splits load(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir + " (no such data directory)");
        List<String> names = names(dir);
        ImageDataset train = read(dir, "train").named(names), test = read(dir, "t10k").named(names);
        for (ImageDataset d : List.of(train, test))
            for (int i = 0; names != null && i < d.count; i++)
                if (d.label(i) >= names.size())
                    throw new IOException(dir.resolve(LABELS_FILE) + ": names " + names.size() + " classes, but " + d.source + " record " + i + " has label " + d.label(i));
        return new Splits(train, test, dir + " (" + train.count + " training, " + test.count + " test images)");
    }

    private static List<String> names(Path dir) throws IOException {
        Path f = dir.resolve(LABELS_FILE);
        if (Files.isRegularFile(f)) {
            List<String> names = Files.readAllLines(f).stream().map(String::strip).filter(l -> !l.isEmpty()).toList();
            if (names.isEmpty()) throw new IOException(f + ": names no classes (one name a line, in label order)");
            return names;
        }
        return dir.toAbsolutePath().normalize().equals(DEFAULT_DIR) ? List.of(FASHION_CLASSES) : null;
    }

    /** The 4,000 + 1,000 image Fashion-MNIST sample (the artifact fovea-fashion-sample, on the class path). */
    public static Splits embeddedSample() throws IOException {
        ImageDataset train = readResource("train"), test = readResource("t10k");
        return new Splits(train, test, "embedded Fashion-MNIST sample (" + train.count + " training, " + test.count
                + " test images; install dataset-fashion-mnist or pass --data for the full set)");
    }

    /** {@code dir} if given; else the default directory when it exists; else the embedded sample. */
    public static Splits resolve(Path dir) throws IOException {
        if (dir != null) return load(dir);
        if (Files.isDirectory(DEFAULT_DIR)) return load(DEFAULT_DIR);
        return embeddedSample();
    }

    /** The test split alone ({@code dir}, the default directory or the embedded sample, as {@link #resolve}): what evaluation reads. */
    public static ImageDataset resolveTest(Path dir) throws IOException {
        if (dir == null && !Files.isDirectory(DEFAULT_DIR)) return readResource("t10k");
        Path d = dir != null ? dir : DEFAULT_DIR;
        if (!Files.isDirectory(d)) throw new NoSuchFileException(d + " (no such data directory)");
        return read(d, "t10k").named(names(d));
    }

    private static ImageDataset read(Path dir, String split) throws IOException {
        Path im = find(dir, split + "-images-idx3-ubyte"), lb = find(dir, split + "-labels-idx1-ubyte");
        Idx.Array images, labels;
        try (InputStream a = Files.newInputStream(im)) { images = Idx.read(im.toString(), a, 3); }
        try (InputStream b = Files.newInputStream(lb)) { labels = Idx.read(lb.toString(), b, 1); }
        return of(im + " + " + lb.getFileName(), images, labels);
    }

    private static Path find(Path dir, String stem) throws NoSuchFileException {
        for (String ext : new String[]{".gz", ""}) {
            Path p = dir.resolve(stem + ext);
            if (Files.isRegularFile(p)) return p;
        }
        throw new NoSuchFileException(dir.resolve(stem) + "[.gz] (expected MNIST-format IDX files in " + dir + ")");
    }

    private static ImageDataset readResource(String split) throws IOException {
        String base = SAMPLE + split;
        try (InputStream a = open(base + "-images-idx3-ubyte.gz"); InputStream b = open(base + "-labels-idx1-ubyte.gz")) {
            return of("embedded:" + split, Idx.read(base + "-images", a, 3), Idx.read(base + "-labels", b, 1)).named(List.of(FASHION_CLASSES));
        }
    }

    /**
     * Where the artifact fovea-fashion-sample keeps the sample: a folder outside any package, so the class loader finds
     * it whether the jars are on the class path or the module path.
     */
    private static final String SAMPLE = "fashion-mnist-sample/";

    private static InputStream open(String res) throws IOException {
        InputStream s = ImageDataset.class.getClassLoader().getResourceAsStream(res);
        if (s == null)
            throw new IOException("the embedded Fashion-MNIST sample (" + res + ") is not on the class path: add the artifact dev.fovea:fovea-fashion-sample,"
                    + " install dataset-fashion-mnist or pass --data DIR");
        return s;
    }

    /** Pairs images with labels, checking that the counts agree and every label is a class index. */
    public static ImageDataset of(String source, Idx.Array images, Idx.Array labels) throws IOException {
        if (images.dims().length != 3) throw new IOException(source + ": images must be [count, height, width]");
        if (images.count() != labels.count())
            throw new IOException(source + ": count mismatch: " + images.count() + " images but " + labels.count() + " labels");
        int classes = 0;
        for (byte l : labels.data()) classes = Math.max(classes, (l & 0xff) + 1);
        return new ImageDataset(source, images.count(), images.dims()[1], images.dims()[2], images.data(), labels.data(), Math.max(classes, 10));
    }
}
