package dev.fovea.inference;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.ClassNames;
import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.TimmConfig;
import dev.fovea.models.ViTConfig;
import dev.fovea.models.VisionTransformer;
import dev.fovea.nn.Layer;
import dev.fovea.tensor.Tensor;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Image classification: images in, the top-k classes with their probabilities out.
 *
 * <pre>{@code
 * try (Backend be = Backends.open("cpu", BackendOptions.defaults());
 *      ImageClassifier model = ImageClassifier.load(be, Path.of("runs/lenet5/checkpoint.safetensors"))) {
 *     for (ImageClassifier.Label l : model.classify(Path.of("boot.png"), 3))
 *         System.out.println(l.name() + " " + l.probability());
 * }
 * }</pre>
 */
public final class ImageClassifier implements Predictor {
    /** A class and its probability; {@code index} is the model's output index. */
    public record Label(int index, String name, float probability) {
        @Override public String toString() { return String.format(Locale.ROOT, "%s %.3f", name, probability); }
    }

    private final Backend be;
    private final Layer model;
    private final Preprocessing preprocessing;
    private final List<String> labels;
    private final Path source;
    private final String description;

    private ImageClassifier(Backend be, Layer model, Preprocessing preprocessing, List<String> labels, Path source, String description) {
        this.be = be;
        this.model = model;
        this.preprocessing = preprocessing;
        this.labels = List.copyOf(labels);
        this.source = source;
        this.description = description;
        model.train(false);
    }

    /**
     * A classifier from a Fovea checkpoint (LeNet-5, the ViT, a fine-tuned model) or a timm ViT: a folder holding
     * {@code model.safetensors} and {@code config.json}, or the weights file with its {@code config.json} beside it
     * (a file without one loads only if its own metadata names the head count). A checkpoint of another family is
     * refused, naming the predictor that reads it.
     */
    public static ImageClassifier load(Backend be, Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path weights = path.resolve("model.safetensors");
            if (!Files.isRegularFile(weights))
                throw new NoSuchFileException(path + ": a model folder holds model.safetensors (and config.json), as timm and the Hugging Face hub save them");
            return loadTimm(be, weights);
        }
        if (!Files.exists(path)) throw new NoSuchFileException(path + " (no such checkpoint)");
        Map<String, String> meta;
        try (SafetensorsFile f = SafetensorsFile.open(path)) { meta = f.metadata(); }
        if (!Checkpoint.FORMAT.equals(meta.get("format"))) return loadTimm(be, path);
        if (meta.get("task") != null)
            throw new IllegalArgumentException(path + ": a checkpoint of --task " + meta.get("task") + ", not a classifier; Predictor.load reads it");
        ClassificationTask.Loaded w = ClassificationTask.load(be, path);
        return new ImageClassifier(be, w.model(), w.preprocessing(), w.labels(), path,
                String.format(Locale.ROOT, "%s, %d classes, %d epochs", w.config().model(), w.config().classes(), w.epochs()));
    }

    private static ImageClassifier loadTimm(Backend be, Path weights) throws IOException {
        Path json = TimmConfig.beside(weights);
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            ViTConfig cfg = ViTConfig.fromFile(f);
            Preprocessing pre = TimmConfig.preprocessing(json, cfg);
            List<String> names = TimmConfig.labelNames(json, cfg.numClasses());
            if (names == null) names = ClassNames.fromMetadata(weights.toString(), f.metadata(), cfg.numClasses());
            VisionTransformer vit = new VisionTransformer(be, cfg, 0);
            try {
                String note = vit.load(f, n -> !n.startsWith("io.") && !n.startsWith("grad."));
                String d = String.format(Locale.ROOT, "ViT (timm%s) width %d, depth %d, %d heads, patch %d, %dx%d, %d classes%s", json != null ? ", " + json.getFileName() : "",
                        cfg.embedDim(), cfg.depth(), cfg.numHeads(), cfg.patchSize(), cfg.imgSize(), cfg.imgSize(), cfg.numClasses(), note != null ? "; " + note : "");
                return new ImageClassifier(be, vit, pre, names != null ? names : ClassNames.numbered(cfg.numClasses()), weights, d);
            } catch (RuntimeException e) {
                vit.close();
                throw e;
            }
        }
    }

    @Override public Path source() { return source; }
    @Override public String describe() { return description; }
    public Preprocessing preprocessing() { return preprocessing; }
    public List<String> labels() { return labels; }
    public int classes() { return labels.size(); }

    /** The model itself (in evaluation mode; the classifier owns it: do not close it). */
    public Layer model() { return model; }

    /** The top {@code k} classes of an image file. */
    public List<Label> classify(Path image, int k) throws IOException { return classify(Images.read(image), k); }

    /** The top {@code k} classes of an image, preprocessed as the checkpoint says. */
    public List<Label> classify(BufferedImage image, int k) { return classify(List.of(image), k).getFirst(); }

    /** The top {@code k} classes of each image, run in batches of 64. */
    public List<List<Label>> classify(List<BufferedImage> images, int k) {
        List<float[]> inputs = new ArrayList<>();
        for (BufferedImage img : images) inputs.add(preprocessing.prepare(img).input());
        return classifyInputs(inputs, k);
    }

    /** The top {@code k} classes of inputs already preprocessed: each [C, H, W] as {@link #preprocessing()} makes them. */
    public List<List<Label>> classifyInputs(List<float[]> inputs, int k) {
        int n = preprocessing.size(), c = classes();
        List<List<Label>> out = new ArrayList<>();
        for (int start = 0; start < inputs.size(); start += Batches.SIZE) {
            int b = Math.min(Batches.SIZE, inputs.size() - start);
            float[] x = Batches.stack(inputs, start, b, n, preprocessing.shape());
            float[] p = probabilities(x, b);
            for (int i = 0; i < b; i++) out.add(top(Arrays.copyOfRange(p, i * c, (i + 1) * c), k));
        }
        return out;
    }

    /** Softmax probabilities [count, classes] of a batch of preprocessed inputs x [count, C, H, W]. */
    public float[] probabilities(float[] x, int count) {
        if (count < 1 || x.length != count * preprocessing.size())
            throw new IllegalArgumentException("input: " + x.length + " values are not " + count + " images of " + preprocessing.shape());
        try (Tape t = Tape.inference(be)) {
            Var logits = model.forward(t, t.constant(be.upload(x, count, preprocessing.channels(), preprocessing.height(), preprocessing.width())));
            Tensor p = t.alloc(logits.shape());
            be.softmaxForward(logits.value(), p, false);
            return p.toArray();
        }
    }

    /** The {@code k} most probable of one image's probabilities [classes], most probable first (ties: lower index first). */
    public List<Label> top(float[] probs, int k) {
        if (k < 1) throw new IllegalArgumentException("top-k: k must be >= 1, got " + k);
        Integer[] order = new Integer[probs.length];
        for (int j = 0; j < order.length; j++) order[j] = j;
        Arrays.sort(order, (a, b) -> Float.compare(probs[b], probs[a]));
        List<Label> out = new ArrayList<>();
        for (int j = 0; j < Math.min(k, probs.length); j++) out.add(new Label(order[j], labels.get(order[j]), probs[order[j]]));
        return out;
    }

    @Override public void close() { model.close(); }
}
