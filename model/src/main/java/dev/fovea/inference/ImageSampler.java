package dev.fovea.inference;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageTokens;
import dev.fovea.models.ImageGenerator;
import dev.fovea.tasks.GenerationTask;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/** Class-conditional image generation: images of the classes asked for, drawn token by token. */
public final class ImageSampler implements Predictor {
    private final Backend be;
    private final GenerationTask.Loaded model;
    private final Path source;

    private ImageSampler(Backend be, GenerationTask.Loaded model, Path source) {
        this.be = be;
        this.model = model;
        this.source = source;
        model.net().train(false);
    }

    public static ImageSampler load(Backend be, Path path) throws IOException {
        return new ImageSampler(be, GenerationTask.load(be, path), path);
    }

    @Override public Path source() { return source; }

    @Override public String describe() {
        ImageGenerator.Config c = model.net().config();
        return String.format(Locale.ROOT, "generator (decoder-only Transformer, width %d, depth %d, %d heads), %d classes, %d epochs", c.dim(), c.depth(),
                c.heads(), c.classes(), model.info().epochsDone());
    }

    /** The classes it draws, by index. */
    public List<String> labels() { return model.labels(); }

    /** The side of the square images it draws. */
    public int side() { return model.net().config().tokens().side(); }

    /**
     * A class by its name (case, spaces and punctuation as you like: "ankle boot", "T-shirt/top"), by the part of a
     * name before a slash ("t-shirt"), or by its index.
     */
    public int classIndex(String name) {
        String want = norm(name);
        List<String> names = labels();
        for (int c = 0; c < names.size(); c++) {
            String have = names.get(c);
            if (norm(have).equals(want) || have.contains("/") && norm(have.substring(0, have.indexOf('/'))).equals(want)) return c;
        }
        try {
            int c = Integer.parseInt(name.strip());
            if (c >= 0 && c < names.size()) return c;
        } catch (NumberFormatException ignored) {
            // not a number either: the error lists the names
        }
        throw new IllegalArgumentException("unknown class \"" + name + "\"; the classes are: " + String.join(", ", names) + " (or their index 0.."
                + (names.size() - 1) + ")");
    }

    private static String norm(String s) { return s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9/]", ""); }

    /**
     * One image per entry of {@code classes}: 8-bit grey samples [side × side]. {@code temperature} 1 samples the
     * model as trained, lower is more conservative, 0 is greedy; the same seed gives the same images.
     */
    public byte[][] sample(int[] classes, float temperature, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        for (int c : classes)
            if (c < 0 || c >= labels().size()) throw new IllegalArgumentException("class " + c + " is not one of the model's 0.." + (labels().size() - 1));
        int[][] tokens = model.net().sample(be, classes, temperature, new SplittableRandom(seed), true);
        ImageTokens tk = model.net().config().tokens();
        byte[][] out = new byte[tokens.length][];
        for (int i = 0; i < tokens.length; i++) out[i] = tk.pixels(tokens[i]);
        return out;
    }

    @Override public void close() { model.close(); }
}
