package dev.fovea.explain;

import dev.fovea.autograd.AttentionRecorder;
import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Preprocessing;
import dev.fovea.inference.ImageCaptioner;
import dev.fovea.inference.ImageClassifier;
import dev.fovea.inference.Predictor;
import dev.fovea.inference.SceneDetector;
import dev.fovea.models.Captioner;
import dev.fovea.models.LeNet5;
import dev.fovea.models.VisionTransformer;
import dev.fovea.text.Vocabulary;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a model sees in one image, as numbers and as one picture: a CNN's learned first-layer kernels and the maps
 * each stage makes (with LeNet-5's C3 connection table); a Vision Transformer's attention of the class token to every
 * patch, per head and layer, its attention rollout, and the similarity of its learned position embeddings (the
 * ViT paper's figure 7); a scene model's attention to every cell; a captioner's cross-attention of each word it
 * writes over the image's cells. The attention comes from the model's own fused attention ops
 * ({@link AttentionRecorder}).
 */
public final class Explainer {
    private Explainer() {}

    /** What was found and drawn. */
    public sealed interface Explanation permits Convolutions, Attentions, Captions {
        BufferedImage picture();

        /** One line: the model and what the picture shows. */
        String summary();
    }

    /** A map stack [channels, height, width]. */
    public record Maps(int channels, int height, int width, float[] values) {}

    /** A CNN: its first layer's kernels [out, in, k, k], each stage's maps by name, and C3's connection table (or null). */
    public record Convolutions(Maps kernels, Map<String, Maps> maps, boolean[][] connections, BufferedImage picture, String summary) implements Explanation {}

    /**
     * An attention encoder over a grid × grid of tokens: per layer, per head, the attention each patch gets [N]
     * (from the class token; without one, the mean over all queries), the rollout over all layers [N], and the
     * position embeddings' cosine similarities [N][N] (null when the model has none).
     */
    public record Attentions(int grid, List<double[][]> perLayer, double[] rollout, double[][] positions, BufferedImage picture, String summary)
            implements Explanation {}

    /** A caption's words and, for each, the last decoder layer's cross-attention over the grid × grid cells (mean over heads). */
    public record Captions(List<String> words, int grid, List<double[]> overCells, BufferedImage picture, String summary) implements Explanation {}

    static final int TILE = 112;

    /**
     * Explains {@code p}'s view of {@code image} ({@code be} is the backend it was loaded on). A model that does not
     * look at an image (a generator) is refused.
     */
    public static Explanation explain(Backend be, Predictor p, BufferedImage image) {
        return switch (p) {
            case ImageClassifier c when c.model() instanceof LeNet5 lenet -> convolutions(be, c, lenet, c.preprocessing().prepare(image));
            case ImageClassifier c when c.model() instanceof VisionTransformer vit -> vit(be, c, vit, c.preprocessing().prepare(image));
            case SceneDetector d -> scene(be, d, d.preprocessing().prepare(image));
            case ImageCaptioner c -> captions(be, c, c.preprocessing().prepare(image));
            default -> throw new IllegalArgumentException(p.source() + ": " + p.describe() + "; explain takes models that look at an image"
                    + " (LeNet-5, the ViT, scene models, captioners)");
        };
    }

    // ---------------------------------------------------------------- CNN

    static Convolutions convolutions(Backend be, ImageClassifier c, LeNet5 lenet, Preprocessing.Input in) {
        Map<String, Maps> maps = new LinkedHashMap<>();
        float[] probs;
        try (Tape t = Tape.inference(be)) {
            Var x = t.constant(be.upload(in.input(), 1, 1, 28, 28));
            for (var e : lenet.featureMaps(t, x).entrySet()) maps.put(e.getKey(), new Maps(e.getValue().dim(1), e.getValue().dim(2), e.getValue().dim(3),
                    e.getValue().value().toArray()));
        }
        probs = c.probabilities(in.input(), 1);
        var w = lenet.c1().weight;
        Maps kernels = new Maps(w.dim(0), w.dim(2), w.dim(3), w.value().toArray());
        boolean[][] table = lenet.c3().table();
        ImageClassifier.Label top = c.top(probs, 1).getFirst();
        String summary = String.format(Locale.ROOT, "%s: C1's %d learned %dx%d kernels and the maps of %s; predicted %s", c.describe(), kernels.channels(),
                kernels.height(), kernels.width(), String.join(", ", maps.keySet()), top);

        Sheet sheet = new Sheet(c.describe() + " — predicted " + top);
        sheet.row("input (as the model sees it, 28x28)", List.of(new Sheet.Tile(Sheet.scaled(Sheet.input(in.pixels(), 1, 28), TILE), null)));
        List<Sheet.Tile> k = new ArrayList<>();
        for (int i = 0; i < kernels.channels(); i++)
            k.add(new Sheet.Tile(Sheet.signed(kernels.values(), i * kernels.height() * kernels.width(), kernels.height(), kernels.width(), 14), "kernel " + i));
        sheet.row("C1's learned kernels (red positive, blue negative)", k);
        for (var e : maps.entrySet()) {
            Maps m = e.getValue();
            int zoom = Math.max(2, 60 / m.width());
            List<Sheet.Tile> tiles = new ArrayList<>();
            for (int i = 0; i < m.channels(); i++)
                tiles.add(new Sheet.Tile(Sheet.grey(m.values(), i * m.height() * m.width(), m.height(), m.width(), zoom), e.getKey() + "." + i));
            if (e.getKey().equals("C3") && table != null)
                tiles.add(new Sheet.Tile(Sheet.table(transpose(table), 10), "table: S2 rows, C3 columns"));
            sheet.row(e.getKey() + ": " + m.channels() + " maps of " + m.height() + "x" + m.width() + " (each scaled from its own minimum to maximum)", tiles);
        }
        return new Convolutions(kernels, maps, table, sheet.render(), summary);
    }

    private static boolean[][] transpose(boolean[][] t) {
        boolean[][] out = new boolean[t[0].length][t.length];
        for (int i = 0; i < t.length; i++) for (int j = 0; j < t[0].length; j++) out[j][i] = t[i][j];
        return out;
    }

    // ---------------------------------------------------------------- attention

    static Attentions vit(Backend be, ImageClassifier c, VisionTransformer vit, Preprocessing.Input in) {
        var cfg = vit.config();
        List<AttentionRecorder.Map> maps;
        try (AttentionRecorder rec = AttentionRecorder.start(); Tape t = Tape.inference(be)) {
            vit.forward(t, t.constant(be.upload(in.input(), 1, cfg.inChans(), cfg.imgSize(), cfg.imgSize())));
            maps = rec.maps();
        }
        ImageClassifier.Label top = c.top(c.probabilities(in.input(), 1), 1).getFirst();
        double[][] positions = positionSimilarity(vit.posEmbed.value().toArray(), cfg.classToken() ? 1 : 0, cfg.patches(), cfg.embedDim());
        return attentions(c.describe() + " — predicted " + top, maps, cfg.classToken(), cfg.gridSize(), in, cfg.inChans(), cfg.imgSize(), positions);
    }

    static Attentions scene(Backend be, SceneDetector d, Preprocessing.Input in) {
        var cfg = d.model().config();
        List<AttentionRecorder.Map> maps;
        try (AttentionRecorder rec = AttentionRecorder.start(); Tape t = Tape.inference(be)) {
            d.model().forward(t, t.constant(be.upload(in.input(), 1, cfg.inChans(), cfg.imgSize(), cfg.imgSize())));
            maps = rec.maps();
        }
        int cells = maps.getFirst().keys(), g = (int) Math.round(Math.sqrt(cells));
        return attentions(d.describe(), maps, false, g, in, cfg.inChans(), cfg.imgSize(), null);
    }

    /**
     * Per layer and head, what each patch receives: from the class token (query 0, its keys after the prefix) or, with
     * none, the mean over all queries; the rollout likewise.
     */
    static Attentions attentions(String title, List<AttentionRecorder.Map> maps, boolean classToken, int g, Preprocessing.Input in, int channels, int size,
                                 double[][] positions) {
        int prefix = classToken ? 1 : 0, n = g * g;
        List<double[][]> perLayer = new ArrayList<>();
        List<double[][]> averaged = new ArrayList<>();
        for (AttentionRecorder.Map m : maps) {
            int tokens = m.keys();
            double[][] heads = new double[m.heads()][n];
            double[][] mean = new double[tokens][tokens];
            for (int h = 0; h < m.heads(); h++) {
                for (int i = 0; i < tokens; i++)
                    for (int j = 0; j < tokens; j++) mean[i][j] += m.at(0, h, i, j) / m.heads();
                heads[h] = received(m, h, prefix, n);
            }
            perLayer.add(heads);
            averaged.add(mean);
        }
        double[][] r = Rollout.of(averaged);
        double[] rollout = new double[n];
        for (int j = 0; j < n; j++) {
            if (classToken) rollout[j] = r[0][prefix + j];
            else { for (double[] row : r) rollout[j] += row[j] / row.length; }
        }
        BufferedImage base = Sheet.input(in.pixels(), channels, size);
        String what = classToken ? "the class token's attention to each patch" : "the attention each cell receives (mean over all cells)";
        what += " (each map from its least, dark, to its most, white)";
        Sheet sheet = new Sheet(title);
        sheet.row("input (as the model sees it, " + size + "x" + size + ")", List.of(new Sheet.Tile(Sheet.scaled(base, TILE), null)));
        for (int l = 0; l < perLayer.size(); l++) {
            List<Sheet.Tile> tiles = new ArrayList<>();
            for (int h = 0; h < perLayer.get(l).length; h++) tiles.add(new Sheet.Tile(Sheet.heat(perLayer.get(l)[h], g, base, TILE), "head " + h));
            sheet.row("layer " + l + ": " + what, tiles);
        }
        List<Sheet.Tile> last = new ArrayList<>();
        last.add(new Sheet.Tile(Sheet.heat(rollout, g, base, TILE), "rollout"));
        if (positions != null) last.add(new Sheet.Tile(positionGrid(positions, g), "position embeddings"));
        sheet.row("attention rollout over all " + perLayer.size() + " layers" + (positions != null ? "; position embeddings: tile (r, c) is the cosine"
                + " similarity of patch (r, c)'s to every patch's (red 1, blue -1)" : ""), last);
        String summary = String.format(Locale.ROOT, "%s: %s, %d layers x %d heads, rollout%s", title, what, perLayer.size(), perLayer.getFirst().length,
                positions != null ? ", position-embedding similarity" : "");
        return new Attentions(g, perLayer, rollout, positions, sheet.render(), summary);
    }

    /** What the patches receive from query 0 (after a class token) or, without one, on average over all queries. */
    private static double[] received(AttentionRecorder.Map m, int h, int prefix, int n) {
        double[] v = new double[n];
        if (prefix > 0) {
            for (int j = 0; j < n; j++) v[j] = m.at(0, h, 0, prefix + j);
            return v;
        }
        for (int i = 0; i < m.queries(); i++)
            for (int j = 0; j < n; j++) v[j] += m.at(0, h, i, j) / m.queries();
        return v;
    }

    /** Cosine similarities [N][N] of the patch rows of pos_embed [1, prefix + N, D]. */
    static double[][] positionSimilarity(float[] pe, int prefix, int n, int d) {
        double[][] s = new double[n][n];
        double[] norm = new double[n];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < d; c++) norm[i] += (double) pe[(prefix + i) * d + c] * pe[(prefix + i) * d + c];
            norm[i] = Math.sqrt(norm[i]);
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int c = 0; c < d; c++) dot += (double) pe[(prefix + i) * d + c] * pe[(prefix + j) * d + c];
                s[i][j] = dot / Math.max(norm[i] * norm[j], 1e-12);
            }
        return s;
    }

    /** The ViT paper's figure 7: a g × g grid of tiles, tile (r, c) the similarity of patch (r, c) to every patch, −1 blue to 1 red. */
    private static BufferedImage positionGrid(double[][] s, int g) {
        int z = Math.max(1, 8 / Math.max(1, g / 4)), tile = g * z + 2, size = g * tile;
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) out.setRGB(x, y, 0x606060);    // grey between the tiles
        for (int p = 0; p < g * g; p++) {
            float[] v = new float[g * g];
            for (int j = 0; j < v.length; j++) v[j] = (float) s[p][j];
            BufferedImage t = Sheet.signed(v, 0, g, g, z);
            int x0 = (p % g) * tile + 1, y0 = (p / g) * tile + 1;
            for (int y = 0; y < t.getHeight(); y++) for (int x = 0; x < t.getWidth(); x++) out.setRGB(x0 + x, y0 + y, t.getRGB(x, y));
        }
        return out;
    }

    // ---------------------------------------------------------------- captions

    static Captions captions(Backend be, ImageCaptioner c, Preprocessing.Input in) {
        Captioner net = c.model();
        var cfg = net.config();
        List<AttentionRecorder.Map> maps;
        int[] tokens;
        try (AttentionRecorder rec = AttentionRecorder.start()) {
            tokens = net.caption(be, in.input(), 1, true)[0];
            maps = rec.maps();
        }
        List<AttentionRecorder.Map> cross = maps.stream().filter(m -> m.site().equals("cross")).toList();
        int depth = cfg.decoderDepth(), cells = cross.getFirst().keys(), g = (int) Math.round(Math.sqrt(cells));
        List<String> words = Vocabulary.words(c.decode(tokens));
        List<double[]> over = new ArrayList<>();
        BufferedImage base = Sheet.input(in.pixels(), cfg.inChans(), cfg.imgSize());
        List<Sheet.Tile> tiles = new ArrayList<>();
        for (int w = 0; w < words.size() && (w + 1) * depth <= cross.size(); w++) {
            AttentionRecorder.Map m = cross.get(w * depth + depth - 1);        // step w, the last decoder layer
            double[] v = new double[cells];
            for (int h = 0; h < m.heads(); h++)
                for (int j = 0; j < cells; j++) v[j] += m.at(0, h, m.queries() - 1, j) / m.heads();
            over.add(v);
            tiles.add(new Sheet.Tile(Sheet.heat(v, g, base, TILE), words.get(w)));
        }
        String caption = String.join(" ", words);
        Sheet sheet = new Sheet(c.describe() + " — \"" + caption + "\"");
        sheet.row("input (as the model sees it, " + cfg.imgSize() + "x" + cfg.imgSize() + ")", List.of(new Sheet.Tile(Sheet.scaled(base, TILE), null)));
        sheet.row("each word's cross-attention over the " + g + "x" + g + " cells (the last decoder layer, mean over heads)", tiles);
        return new Captions(words, g, over, sheet.render(), c.describe() + ": the cross-attention of each of the " + words.size() + " words of \"" + caption
                + "\" over the " + g + "x" + g + " cells");
    }
}
