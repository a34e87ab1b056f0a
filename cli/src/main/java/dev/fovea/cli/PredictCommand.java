package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.inference.ImageClassifier;
import dev.fovea.inference.Predictor;
import dev.fovea.inference.SceneDetector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code fovea predict}: the library's predictors ({@link Predictor#load}) on image files; this class only parses and prints. */
@Command(name = "predict", description = {"Classify image files (PNG, JPEG, GIF, BMP) with a trained checkpoint or a timm ViT folder (model.safetensors + config.json);",
        "with a scene-task checkpoint, localize, detect or segment and draw the answer into --out.",
        "Images are converted as the checkpoint says (size, crop, channels, normalisation; a model of light objects on a dark background",
        "inverts light-bordered images), and it says what it converted."})
final class PredictCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by fovea train, or a timm/Hugging Face model folder") Path weights;
    @Option(names = "--top", description = "classes to show per image (default: ${DEFAULT-VALUE})") int top = 3;
    @Option(names = "--invert", description = "invert the images: auto (as the checkpoint says: when the border is light, for a model of light objects on a dark background), yes or no (default: ${DEFAULT-VALUE})")
    String invert = "auto";
    @Option(names = "--task", description = "localize, detect, segment or instance (default for a scene-task checkpoint: its own task)") String task;
    @Option(names = "--out", description = "with --task: the picture to write (PNG; a folder when there are several images)") Path out;
    @Option(names = "--overwrite", description = "with --task: replace pictures that exist") boolean overwrite;
    @Option(names = "--min-score", description = "with --task: the least score of a detection shown (default: ${DEFAULT-VALUE})") double minScore = 0.3;
    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files") List<Path> images;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        if (top < 1) throw new IllegalArgumentException("--top must be >= 1, got " + top);
        Preprocessing.Invert inv = Preprocessing.Invert.parse(invert);
        try (Backend be = engine.open(); Predictor p = Predictor.load(be, weights)) {
            return switch (p) {
                case ImageClassifier c -> {
                    if (task != null) throw new IllegalArgumentException(weights + " is a classifier; --task applies to scene-task checkpoints");
                    yield classify(c, inv);
                }
                case SceneDetector d -> TaskRun.predict(d, images, task, out, overwrite, minScore, inv);
                default -> throw new IllegalArgumentException(weights + ": " + p.describe() + "; predict takes classifiers and scene-task checkpoints"
                        + " (captioners: fovea caption; generators: fovea generate)");
            };
        }
    }

    private int classify(ImageClassifier c, Preprocessing.Invert inv) throws IOException {
        // auto: as the checkpoint says (Fovea's models of dark backgrounds invert light-bordered images, timm's never)
        Preprocessing pre = inv == Preprocessing.Invert.AUTO ? c.preprocessing() : c.preprocessing().withInvert(inv);
        List<float[]> inputs = new ArrayList<>();
        for (Path p : images) {
            Preprocessing.Input in = pre.prepare(Images.read(p));
            if (!in.notes().isEmpty()) System.out.println("note: " + p + ": converted: " + String.join(", ", in.notes()));
            inputs.add(in.input());
        }
        List<List<ImageClassifier.Label>> answers = c.classifyInputs(inputs, top);
        for (int i = 0; i < images.size(); i++) {
            StringBuilder sb = new StringBuilder(images.get(i) + ":");
            int k = 1;
            for (ImageClassifier.Label l : answers.get(i)) sb.append("  ").append(k++).append(". ").append(l);
            System.out.println(sb);
        }
        return 0;
    }
}
