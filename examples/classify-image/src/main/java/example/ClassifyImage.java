package example;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Backends;
import dev.fovea.inference.ImageClassifier;

import java.nio.file.Path;

/**
 * Classifies image files with a checkpoint through Fovea's public API: {@code ClassifyImage CHECKPOINT IMAGE...}.
 * The checkpoint is one `fovea train` wrote, or a timm / Hugging Face ViT folder (model.safetensors + config.json);
 * the images are any size, grey or colour: the classifier preprocesses them as the checkpoint says.
 */
public final class ClassifyImage {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: ClassifyImage CHECKPOINT IMAGE...");
            System.exit(2);
        }
        try (Backend be = Backends.open("cpu", BackendOptions.defaults());
             ImageClassifier model = ImageClassifier.load(be, Path.of(args[0]))) {
            System.out.println("model: " + model.describe());
            for (int i = 1; i < args.length; i++) {
                var top = model.classify(Path.of(args[i]), 3);
                StringBuilder line = new StringBuilder(args[i] + ":");
                for (int k = 0; k < top.size(); k++) line.append("  ").append(k + 1).append(". ").append(top.get(k));
                System.out.println(line);
            }
        }
    }
}
