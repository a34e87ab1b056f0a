package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.ViTConfig;
import dev.fovea.models.VisionTransformer;
import dev.fovea.nn.Init;
import dev.fovea.nn.Linear;
import dev.fovea.nn.Module;
import dev.fovea.train.Collective;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.TrainingTask;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Masked-patch pretraining of a ViT on unlabelled images, an objective beside the model: as BERT does with words, a
 * random {@code maskRatio} of each image's patches is replaced by a learned mask token before the encoder, and a
 * linear decoder predicts those patches' pixels. Labels are not read; there is no test pass.
 */
public final class MaskedPretraining implements TrainingTask<MaskedPretraining.Batch> {
    /** Normalised images [size, 1, H, W] and the seed of each one's mask. */
    public record Batch(int size, float[] images, long[] maskSeeds) {}

    /** What pretraining adds to the ViT: a learned mask token and a linear decoder from a token to its patch's pixels. */
    public static final class Head extends Module {
        public final Var maskToken;
        public final Linear decoder;

        Head(Backend be, Init init, int dim, int patchPixels) {
            maskToken = param("mask_token", init.truncNormal(be, 0.02f, 1, 1, dim));
            decoder = child("decoder", Linear.timm(be, init, dim, patchPixels, true));
        }
    }

    /** The name under which the head's parameters are saved with the ViT's ("pretrain.mask_token", "pretrain.decoder.*"). */
    public static final String HEAD = "pretrain";

    private final VisionTransformer vit;
    private final Head head;
    private final TrainConfig cfg;
    private final ImageDataset train;
    private final float maskRatio;

    /** Attaches a fresh head (initialised from {@code seed}) to {@code vit}: its parameters then train and save with the ViT's. */
    public static Head attachHead(Backend be, VisionTransformer vit, long seed) {
        ViTConfig c = vit.config();
        return vit.attach(HEAD, new Head(be, new Init(seed), c.embedDim(), c.inChans() * c.patchSize() * c.patchSize()));
    }

    /** Pretraining {@code vit} with a fresh head, attached to it here (initialised from {@code cfg.seed()}). */
    public MaskedPretraining(Backend be, VisionTransformer vit, TrainConfig cfg, ImageDataset train, float maskRatio) {
        if (!(maskRatio > 0 && maskRatio < 1)) throw new IllegalArgumentException("--mask-ratio must be in (0, 1), got " + maskRatio);
        this.vit = vit;
        this.head = attachHead(be, vit, cfg.seed());
        this.cfg = cfg;
        this.train = train;
        this.maskRatio = maskRatio;
    }

    /** The mask ratio a pretraining checkpoint records. */
    public static float maskRatio(String source, Map<String, String> metadata) {
        String v = metadata.get("mask_ratio");
        if (v == null) throw new IllegalArgumentException(source + ": not a pretraining checkpoint (its metadata has no \"mask_ratio\")");
        try {
            return Float.parseFloat(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": bad \"mask_ratio\" in the metadata: " + v);
        }
    }

    @Override public int trainCount() { return train.count(); }

    @Override public Batch prepare(int[] idx, SplittableRandom rng) {
        float[] x = Batches.images(train, idx, cfg.augment() ? rng : null);
        SplittableRandom masks = new SplittableRandom(rng != null ? rng.nextLong() : 0);
        long[] seeds = new long[idx.length];
        for (int i = 0; i < seeds.length; i++) seeds[i] = masks.nextLong();
        return new Batch(idx.length, x, seeds);
    }

    /** Each image's mask is drawn from its own seed, so a share masks what the whole batch would. */
    @Override public Batch slice(Batch b, int from, int to) {
        int n = vit.config().inChans() * vit.config().imgSize() * vit.config().imgSize();
        return new Batch(to - from, Arrays.copyOfRange(b.images(), from * n, to * n), Arrays.copyOfRange(b.maskSeeds(), from, to));
    }

    /** Every image hides as many patches: the loss is a mean over images. */
    @Override public double weight(Batch b) { return b.size(); }

    @Override public Var loss(Tape t, Batch b, long[] accuracy) {
        return loss(t, b.images(), b.size(), maskRatio, b.maskSeeds());
    }

    /**
     * Masked-patch pretraining, as BERT masks words: a fraction {@code ratio} of each image's patches (drawn from
     * its {@code seeds} entry) is replaced by the mask token before the encoder, and the decoder predicts those patches' pixels,
     * each patch normalised to mean 0 and variance 1 (MAE's normalised-pixel target). Returns the mean squared error
     * over the masked patches' pixels, a one-element Var. The images come as host floats [B, C, H, W]: the masks
     * and targets are made on the host from them, and only then is anything uploaded.
     */
    Var loss(Tape t, float[] img, int b, float ratio, long[] seeds) {
        ViTConfig cfg = vit.config();
        if (!(ratio > 0 && ratio < 1)) throw new IllegalArgumentException("--mask-ratio must be in (0, 1), got " + ratio);
        Backend be = t.backend();
        int hw = cfg.imgSize();
        if (img.length != b * cfg.inChans() * hw * hw)
            throw new IllegalArgumentException("vit: " + img.length + " floats are not " + b + " images of " + cfg.inChans() + "x" + hw + "x" + hw);
        int n = cfg.patches(), d = cfg.embedDim(), p = cfg.patchSize(), c = cfg.inChans(), g = cfg.gridSize(), pp = c * p * p;
        int hidden = Math.max(1, Math.round(ratio * n));
        float[] keep = new float[b * n * d], hide = new float[b * n * d], maskPix = new float[b * n * pp];
        Arrays.fill(keep, 1f);
        for (int i = 0; i < b; i++) {
            int[] order = Batches.permutation(n, seeds[i]);
            for (int k = 0; k < hidden; k++) {
                int q = order[k];
                Arrays.fill(keep, (i * n + q) * d, (i * n + q + 1) * d, 0f);
                Arrays.fill(hide, (i * n + q) * d, (i * n + q + 1) * d, 1f);
                Arrays.fill(maskPix, (i * n + q) * pp, (i * n + q + 1) * pp, 1f);
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
        Var keepV = t.constant(be.upload(keep, b, n, d)), hideV = t.constant(be.upload(hide, b, n, d));
        Var h = vit.encode(t, x, e -> t.add(t.mul(e, keepV), t.mul(hideV, t.reshape(head.maskToken, d))));   // h·keep + hide·token
        Var pred = head.decoder.forward(t, vit.patchTokens(t, h));                // [B, N, P·P·C]
        for (int i = 0; i < target.length; i++) target[i] = -target[i];
        Var diff = t.add(pred, t.constant(be.upload(target, b, n, pp)));
        Var err = t.mul(t.mul(diff, diff), t.constant(be.upload(maskPix, b, n, pp)));
        return t.scale(t.sum(err), 1f / ((float) b * hidden * pp));
    }

    @Override public TestReport evaluate(Collective ranks) { return null; }
    @Override public Map<String, String> metadata() { return Map.of("mask_ratio", Float.toString(maskRatio)); }
    @Override public String name() { return "model=vit mask_ratio=" + maskRatio; }
    @Override public String accuracyName() { return null; }
    @Override public String chartTitle() { return "masked-patch pretraining: loss"; }
}
