package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Layer;
import dev.fovea.nn.Block;
import dev.fovea.nn.Init;
import dev.fovea.nn.LayerNorm;
import dev.fovea.nn.Linear;
import dev.fovea.nn.PatchEmbed;
import dev.fovea.nn.Sequential;
import dev.fovea.nn.StateDict;
import dev.fovea.tensor.Shape;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * The Vision Transformer of Dosovitskiy et al. (2021) as timm's {@code VisionTransformer} builds it, with timm's
 * parameter names so that its checkpoints load unchanged: patches embedded linearly, a class token, learned 1D
 * position embeddings (the class token's included), pre-norm encoder blocks, a final norm, a linear head on the
 * class token (or, with global pool "avg", a norm and the head on the mean patch token).
 */
public final class VisionTransformer extends Layer implements Classifier {
    private ViTConfig cfg;
    public final PatchEmbed patchEmbed;
    public final Var clsToken, posEmbed;
    public final Sequential blocks;
    public final LayerNorm norm;
    private Linear head;

    public VisionTransformer(Backend be, ViTConfig cfg, long seed) {
        this.cfg = cfg;
        Init init = new Init(seed);
        int d = cfg.embedDim();
        patchEmbed = child("patch_embed", new PatchEmbed(be, init, cfg.inChans(), d, cfg.patchSize()));
        clsToken = cfg.classToken() ? param("cls_token", init.truncNormal(be, 1e-6f, 1, 1, d)) : null;
        posEmbed = param("pos_embed", init.truncNormal(be, 0.02f, 1, cfg.tokens(), d));
        blocks = child("blocks", new Sequential());
        for (int i = 0; i < cfg.depth(); i++)
            blocks.add(Integer.toString(i), new Block(be, init, d, cfg.numHeads(), cfg.mlpRatio(), cfg.qkvBias(), cfg.eps(), cfg.act(), false));
        // timm: the final norm before token pooling, "fc_norm" after average pooling
        norm = child(cfg.globalPool().equals("avg") ? "fc_norm" : "norm", new LayerNorm(be, init, d, cfg.eps()));
        head = child("head", Linear.timm(be, init, d, cfg.numClasses(), true));
    }

    public ViTConfig config() { return cfg; }

    /**
     * Loads a timm checkpoint (or one of ours) through {@link StateDict#load}; when its position embeddings were
     * learned for another square patch grid (another image size), they are resampled to this model's grid as timm
     * does ({@link PosEmbed}). Returns a sentence saying so, or null when nothing was resampled.
     */
    public String load(SafetensorsFile file, Predicate<String> consider) {
        String note = null;
        Map<String, float[]> replaced = new HashMap<>();
        if (file.contains("pos_embed")) {
            int[] s = file.entry("pos_embed").shape();
            int prefix = cfg.classToken() ? 1 : 0, old = s.length == 3 ? s[1] - prefix : -1, g = (int) Math.round(Math.sqrt(Math.max(old, 0)));
            if (s.length == 3 && s[0] == 1 && s[2] == cfg.embedDim() && s[1] != cfg.tokens() && old > 0 && g * g == old) {
                replaced.put("pos_embed", PosEmbed.resample(file.floats("pos_embed"), prefix, g, g, cfg.gridSize(), cfg.gridSize(), cfg.embedDim()));
                note = "pos_embed resampled from a " + g + "x" + g + " patch grid to " + cfg.gridSize() + "x" + cfg.gridSize() + " (bicubic, as timm)";
            }
        }
        StateDict.load(this, file, consider, replaced);
        return note;
    }

    @Override public void replaceHead(Backend be, int classes, long seed) {
        head = replaceChild("head", Linear.timm(be, new Init(seed), cfg.embedDim(), classes, true));
        cfg = new ViTConfig(cfg.imgSize(), cfg.patchSize(), cfg.inChans(), classes, cfg.embedDim(), cfg.depth(), cfg.numHeads(),
                cfg.mlpRatio(), cfg.qkvBias(), cfg.classToken(), cfg.globalPool(), cfg.eps(), cfg.act());
    }

    @Override public java.util.Map<String, Var> headParameters() {
        java.util.Map<String, Var> m = new java.util.LinkedHashMap<>();
        head.namedParameters().forEach((n, v) -> m.put("head." + n, v));
        return m;
    }

    @Override public int classes() { return cfg.numClasses(); }

    /** x [B, C, H, W] → logits [B, classes]. */
    @Override public Var forward(Tape t, Var x) {
        if (x.value().rank() != 4 || x.dim(1) != cfg.inChans() || x.dim(2) != cfg.imgSize() || x.dim(3) != cfg.imgSize())
            throw new IllegalArgumentException("vit: input: expected [N, " + cfg.inChans() + ", " + cfg.imgSize() + ", " + cfg.imgSize() + "], got " + Shape.str(x.shape()));
        return head.forward(t, features(t, x));
    }

    /** The pooled representation [B, D] that the head reads. */
    public Var features(Tape t, Var x) {
        return pool(t, encode(t, x, null));
    }

    /**
     * The encoder: patch embeddings (passed through {@code embeddings} when not null: masked pretraining puts its
     * mask token in place of some), the class token, position embeddings, the blocks. [B, C, H, W] → [B, T, D].
     */
    public Var encode(Tape t, Var x, UnaryOperator<Var> embeddings) {
        int b = x.dim(0), d = cfg.embedDim();
        Var h = patchEmbed.forward(t, x);                                          // [B, N, D]
        if (embeddings != null) h = embeddings.apply(h);
        if (clsToken != null) h = t.concat(1, t.expand(clsToken, b), h);          // [B, 1+N, D]
        h = t.add(h, t.reshape(posEmbed, cfg.tokens(), d));
        return blocks.forward(t, h);
    }

    /** The encoder's patch tokens after the final norm, without the class token: [B, T, D] → [B, N, D]. */
    public Var patchTokens(Tape t, Var h) {
        h = norm.forward(t, h);
        return clsToken != null ? t.slice(h, 1, 1, cfg.patches()) : h;
    }

    private Var pool(Tape t, Var h) {
        int b = h.dim(0), d = cfg.embedDim();
        if (cfg.globalPool().equals("token")) {
            h = norm.forward(t, h);
            return t.reshape(t.slice(h, 1, 0, 1), b, d);                          // the class token
        }
        int skip = clsToken != null ? 1 : 0;
        Var patches = t.slice(h, 1, skip, cfg.patches());                         // [B, N, D]
        return norm.forward(t, t.meanFirst(t.permute(patches, 1, 0, 2)));          // mean over N, then fc_norm
    }
}
