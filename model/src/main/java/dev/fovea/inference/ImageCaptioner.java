package dev.fovea.inference;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.models.Captioner;
import dev.fovea.tasks.CaptionTask;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Image captioning: a sentence per image, by greedy decoding with the key/value cache. */
public final class ImageCaptioner implements Predictor {
    private final Backend be;
    private final CaptionTask.Loaded model;
    private final Path source;
    private final Preprocessing preprocessing;

    private ImageCaptioner(Backend be, CaptionTask.Loaded model, Path source) {
        this.be = be;
        this.model = model;
        this.source = source;
        var c = model.net().config();
        // captions are learned on the scenes' images: light objects on a dark canvas
        this.preprocessing = Preprocessing.uniform(c.inChans(), c.imgSize(), model.stats()[0], model.stats()[1], Preprocessing.Invert.AUTO);
        model.net().train(false);
    }

    public static ImageCaptioner load(Backend be, Path path) throws IOException {
        return new ImageCaptioner(be, CaptionTask.load(be, path), path);
    }

    @Override public Path source() { return source; }

    @Override public String describe() {
        var c = model.net().config();
        return String.format(Locale.ROOT, "captioner (scene encoder width %d depth %d, decoder depth %d, vocabulary %d), %d epochs", c.dim(), c.depth(),
                c.decoderDepth(), c.vocab(), model.info().epochsDone());
    }

    public Preprocessing preprocessing() { return preprocessing; }

    /** The model itself (in evaluation mode; the captioner owns it: do not close it). */
    public Captioner model() { return model.net(); }

    /** The caption's words for greedy token ids (without the marks). */
    public String decode(int[] tokens) { return model.vocab().decode(tokens); }

    public String caption(Path image) throws IOException { return caption(Images.read(image)); }

    public String caption(BufferedImage image) { return caption(List.of(preprocessing.prepare(image))).getFirst(); }

    /** Captions of inputs made by {@link #preprocessing()}, decoded in batches. */
    public List<String> caption(List<Preprocessing.Input> inputs) {
        int n = preprocessing.size();
        List<String> out = new ArrayList<>();
        List<float[]> xs = inputs.stream().map(Preprocessing.Input::input).toList();
        for (int start = 0; start < inputs.size(); start += Batches.SIZE) {
            int b = Math.min(Batches.SIZE, inputs.size() - start);
            float[] x = Batches.stack(xs, start, b, n, preprocessing.shape());
            for (int[] tokens : model.net().caption(be, x, b, true)) out.add(model.vocab().decode(tokens));
        }
        return out;
    }

    @Override public void close() { model.close(); }
}
