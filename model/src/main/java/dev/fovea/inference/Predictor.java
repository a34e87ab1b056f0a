package dev.fovea.inference;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.train.Checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A trained model ready to answer: the one public way to load a checkpoint and predict with it. {@link #load} reads
 * any checkpoint Fovea writes, or a timm / Hugging Face ViT (a folder with {@code model.safetensors} and
 * {@code config.json}), and returns the predictor its family answers with:
 * <ul>
 *   <li>{@link ImageClassifier}: top-k class names with probabilities (LeNet-5, the ViT, timm ViTs);
 *   <li>{@link SceneDetector}: boxes, masks or a label map (localize, detect, segment, instance);
 *   <li>{@link ImageCaptioner}: a caption per image;
 *   <li>{@link ImageSampler}: images of a class, drawn by the generator.
 * </ul>
 * Each image-taking predictor carries the checkpoint's {@link dev.fovea.data.Preprocessing}, so it takes images as
 * they come (any size, grey or colour). A predictor owns its model: close it. One predictor serves many threads at
 * once (each call records its own tape); it is built in evaluation mode and never switches.
 */
public sealed interface Predictor extends AutoCloseable permits ImageClassifier, SceneDetector, ImageCaptioner, ImageSampler {
    /** The file or folder it was loaded from. */
    Path source();

    /** One line: the model, its size and what it was trained for. */
    String describe();

    @Override void close();

    /** The predictor for whatever {@code path} holds; errors name the file and what is wrong with it. */
    static Predictor load(Backend be, Path path) throws IOException {
        if (Files.isDirectory(path)) return ImageClassifier.load(be, path);
        if (!Files.exists(path)) throw new NoSuchFileException(path + " (no such checkpoint)");
        Map<String, String> meta;
        try (SafetensorsFile f = SafetensorsFile.open(path)) { meta = f.metadata(); }
        if (!Checkpoint.FORMAT.equals(meta.get("format"))) return ImageClassifier.load(be, path);     // timm weights
        String task = meta.get("task");
        if (task == null) return ImageClassifier.load(be, path);
        return switch (task) {
            case "caption" -> ImageCaptioner.load(be, path);
            case "generate" -> ImageSampler.load(be, path);
            default -> SceneDetector.load(be, path);
        };
    }
}
