package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Block;
import dev.fovea.nn.Init;
import dev.fovea.nn.LayerNorm;
import dev.fovea.nn.Linear;
import dev.fovea.nn.Module;
import dev.fovea.nn.PatchEmbed;
import dev.fovea.nn.Sequential;
import dev.fovea.nn.StateDict;
import dev.fovea.tensor.Shape;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The Vision Transformer of Dosovitskiy et al. (2021) as timm's {@code VisionTransformer} builds it, with timm's
 * parameter names so that its checkpoints load unchanged: patches embedded linearly, a class token, learned 1D
 * position embeddings (the class token's included), pre-norm encoder blocks, a final norm, a linear head on the
 * class token (or, with global pool "avg", a norm and the head on the mean patch token).
 */
public final class VisionTransformer extends Module implements Classifier {
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

    // ---------------------------------------------------------------- masked pretraining

    /** What pretraining adds: a learned mask token and a linear decoder from a token to its patch's pixels. */
    public static final class PretrainHead extends Module {
        public final Var maskToken;
        public final Linear decoder;

        PretrainHead(Backend be, Init init, int dim, int patchPixels) {
            maskToken = param("mask_token", init.truncNormal(be, 0.02f, 1, 1, dim));
            decoder = child("decoder", Linear.timm(be, init, dim, patchPixels, true));
        }

        @Override public Var forward(Tape t, Var x) { return decoder.forward(t, x); }
    }

    private PretrainHead pretrain;

    /** Adds the pretraining head (parameters "pretrain.mask_token", "pretrain.decoder.*"). */
    public void addPretrainHead(Backend be, long seed) {
        if (pretrain != null) return;
        pretrain = child("pretrain", new PretrainHead(be, new Init(seed), cfg.embedDim(), cfg.inChans() * cfg.patchSize() * cfg.patchSize()));
    }

    /** Drops the pretraining head (before fine-tuning). */
    public void removePretrainHead() {
        if (pretrain == null) return;
        removeChild("pretrain");
        pretrain = null;
    }

    /**
     * Masked-patch pretraining, as BERT masks words: a fraction {@code ratio} of each image's patches (drawn from
     * {@code rng}) is replaced by the mask token before the encoder, and the decoder predicts those patches' pixels,
     * each patch normalised to mean 0 and variance 1 (MAE's normalised-pixel target). Returns the mean squared error
     * over the masked patches' pixels, a one-element Var. The images come as host floats [B, C, H, W]: the masks
     * and targets are made on the host from them, and only then is anything uploaded.
     */
    public Var maskedPatchLoss(Tape t, float[] img, int b, float ratio, java.util.SplittableRandom rng) {
        if (pretrain == null) throw new IllegalStateException("vit: masked pretraining needs addPretrainHead() first");
        if (!(ratio > 0 && ratio < 1)) throw new IllegalArgumentException("--mask-ratio must be in (0, 1), got " + ratio);
        Backend be = t.backend();
        int hw = cfg.imgSize();
        if (img.length != b * cfg.inChans() * hw * hw)
            throw new IllegalArgumentException("vit: " + img.length + " floats are not " + b + " images of " + cfg.inChans() + "x" + hw + "x" + hw);
        int n = cfg.patches(), d = cfg.embedDim(), p = cfg.patchSize(), c = cfg.inChans(), g = cfg.gridSize(), pp = c * p * p;
        int hidden = Math.max(1, Math.round(ratio * n));
        float[] keep = new float[b * n * d], hide = new float[b * n * d], maskPix = new float[b * n * pp];
        java.util.Arrays.fill(keep, 1f);
        for (int i = 0; i < b; i++) {
            int[] order = dev.fovea.data.Batches.permutation(n, rng.nextLong());
            for (int k = 0; k < hidden; k++) {
                int q = order[k];
                java.util.Arrays.fill(keep, (i * n + q) * d, (i * n + q + 1) * d, 0f);
                java.util.Arrays.fill(hide, (i * n + q) * d, (i * n + q + 1) * d, 1f);
                java.util.Arrays.fill(maskPix, (i * n + q) * pp, (i * n + q + 1) * pp, 1f);
            }
        }
        // targets: each patch's pixels in (channel, row, column) order, normalised per patch
        float[] target = new float[b * n * pp];
        for (int i = 0; i < b; i++)
            for (int gy = 0; gy < g; gy++)
                for (int gx = 0; gx < g; gx++) {
                    int base = (i * n + gy * g + gx) * pp, k = 0;
                    double sum = 0, sq = 0;
                    for (int ch = 0; ch < c; ch++)
                        for (int py = 0; py < p; py++)
                            for (int px = 0; px < p; px++, k++) {
                                float v = img[((i * c + ch) * hw + gy * p + py) * hw + gx * p + px];
                                target[base + k] = v;
                                sum += v;
                                sq += (double) v * v;
                            }
                    double mean = sum / pp, var = Math.max(0, sq / pp - mean * mean);
                    float inv = (float) (1 / Math.sqrt(var + 1e-6));
                    for (k = 0; k < pp; k++) target[base + k] = (float) ((target[base + k] - mean) * inv);
                }
        Var x = t.constant(be.upload(img, b, cfg.inChans(), hw, hw));
        Var h = encode(t, x, t.constant(be.upload(keep, b, n, d)), t.constant(be.upload(hide, b, n, d)));
        h = norm.forward(t, h);
        if (clsToken != null) h = t.slice(h, 1, 1, n);                           // the patch tokens [B, N, D]
        Var pred = pretrain.forward(t, h);                                         // [B, N, P·P·C]
        for (int i = 0; i < target.length; i++) target[i] = -target[i];
        Var diff = t.add(pred, t.constant(be.upload(target, b, n, pp)));
        Var err = t.mul(t.mul(diff, diff), t.constant(be.upload(maskPix, b, n, pp)));
        return t.scale(t.sum(err), 1f / ((float) b * hidden * pp));
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
        return pool(t, encode(t, x, null, null));
    }

    /**
     * The encoder: patch embeddings (h·keep + hide·token, with keep and hide = 1 − keep [B, N, D] masks for
     * pretraining, or the embeddings as they are when null), the class token, position embeddings, the blocks.
     * [B, C, H, W] → [B, T, D].
     */
    private Var encode(Tape t, Var x, Var keep, Var hide) {
        int b = x.dim(0), d = cfg.embedDim();
        Var h = patchEmbed.forward(t, x);                                          // [B, N, D]
        if (keep != null) h = t.add(t.mul(h, keep), t.mul(hide, t.reshape(pretrain.maskToken, d)));
        if (clsToken != null) h = t.concat(1, t.expand(clsToken, b), h);          // [B, 1+N, D]
        h = t.add(h, t.reshape(posEmbed, cfg.tokens(), d));
        return blocks.forward(t, h);
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
