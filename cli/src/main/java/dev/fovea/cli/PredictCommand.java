package dev.fovea.cli;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fovea predict}: top-k Fashion-MNIST classes for image files. */
@Command(name = "predict", description = {"Classify image files (PNG, JPEG, GIF, BMP) with a trained checkpoint;",
        "with a scene-task checkpoint (--task), localize, detect or segment and draw the answer into --out.",
        "Images are converted to what the model saw in training: its size and channels, light objects on a dark background."})
final class PredictCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by fovea train") Path weights;
    @Option(names = "--top", description = "classes to show per image (default: ${DEFAULT-VALUE})") int top = 3;
    @Option(names = "--invert", description = "invert: auto (when the border is light, as in photos of dark objects), yes or no (default: ${DEFAULT-VALUE})")
    String invert = "auto";
    @Option(names = "--task", description = "localize, detect, segment or instance (default for a scene-task checkpoint: its own task)") String task;
    @Option(names = "--out", description = "with --task: the picture to write (PNG; a folder when there are several images)") Path out;
    @Option(names = "--min-score", description = "with --task: the least score of a detection shown (default: ${DEFAULT-VALUE})") double minScore = 0.3;
    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files") List<Path> images;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        if (top < 1) throw new IllegalArgumentException("--top must be >= 1, got " + top);
        if (!List.of("auto", "yes", "no").contains(invert)) throw new IllegalArgumentException("--invert must be auto, yes or no, got '" + invert + "'");
        if (task != null || Checkpoint.task(weights) != null) return TaskRun.predict(weights, images, task, out, minScore, invert, engine);
        List<float[]> inputs = new ArrayList<>();
        for (Path p : images) inputs.add(load(p));
        try (Backend be = engine.open(); ClassificationTask.Loaded w = ClassificationTask.load(be, weights)) {
            w.model().train(false);
            float[] x = new float[inputs.size() * 784];
            for (int i = 0; i < inputs.size(); i++) System.arraycopy(inputs.get(i), 0, x, i * 784, 784);
            float[] probs;
            int classes = w.config().classes();
            try (Tape t = Tape.inference(be)) {
                var logits = w.model().forward(t, t.constant(be.upload(x, inputs.size(), 1, 28, 28)));
                var p = t.alloc(logits.shape());
                be.softmaxForward(logits.value(), p, false);
                probs = p.toArray();
            }
            for (int i = 0; i < images.size(); i++) {
                StringBuilder sb = new StringBuilder(images.get(i) + ":");
                Integer[] order = new Integer[classes];
                for (int j = 0; j < classes; j++) order[j] = j;
                final int row = i;
                java.util.Arrays.sort(order, (a, b) -> Float.compare(probs[row * classes + b], probs[row * classes + a]));
                for (int k = 0; k < Math.min(top, classes); k++)
                    sb.append(String.format(Locale.ROOT, "  %d. %s %.3f", k + 1, className(order[k], classes), probs[i * classes + order[k]]));
                System.out.println(sb);
            }
            return 0;
        }
    }

    /** Fashion-MNIST's names for a 10-class model, else the index. */
    static String className(int c, int classes) {
        return classes == ImageDataset.FASHION_CLASSES.length ? ImageDataset.FASHION_CLASSES[c] : "class " + c;
    }

    /** 28×28 grey, normalised as in training; says what it converted. */
    private float[] load(Path p) throws IOException {
        BufferedImage img = ImageFiles.read(p);
        List<String> notes = new ArrayList<>();
        boolean grey = ImageFiles.isGrey(img);
        if (!grey) notes.add("colour to grey");
        if (img.getWidth() != 28 || img.getHeight() != 28) {
            notes.add("resized " + img.getWidth() + "x" + img.getHeight() + " to 28x28");
            img = ImageFiles.resize(img, 28, 28);
        }
        float[] v = ImageFiles.planes(img, true).data();
        boolean inv = invert.equals("yes") || invert.equals("auto") && borderMean(v) > 127;
        if (inv) notes.add("inverted (light background)");
        if (!notes.isEmpty()) System.out.println("note: " + p + ": converted: " + String.join(", ", notes));
        float[] x = new float[784];
        for (int i = 0; i < 784; i++) {
            float px = inv ? 255 - v[i] : v[i];
            x[i] = (px / 255f - ImageDataset.MEAN) / ImageDataset.STD;
        }
        return x;
    }

    private static float borderMean(float[] v) {
        double s = 0;
        int n = 0;
        for (int i = 0; i < 28; i++) { s += v[i] + v[27 * 28 + i] + v[i * 28] + v[i * 28 + 27]; n += 4; }
        return (float) (s / n);
    }
}
