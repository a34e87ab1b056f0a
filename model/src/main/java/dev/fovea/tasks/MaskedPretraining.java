package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.VisionTransformer;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.TrainingTask;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Masked-patch pretraining of a ViT on unlabelled images: as BERT does with words, a random {@code maskRatio} of
 * each image's patches is replaced by a learned mask token and the loss is the error of the pixels predicted for
 * them. Labels are not read; there is no test pass.
 */
public final class MaskedPretraining implements TrainingTask<MaskedPretraining.Batch> {
    /** Normalised images [size, 1, H, W] and the seed of their masks. */
    public record Batch(int size, float[] images, long maskSeed) {}

    private final VisionTransformer vit;
    private final TrainConfig cfg;
    private final ImageDataset train;
    private final float maskRatio;

    public MaskedPretraining(VisionTransformer vit, TrainConfig cfg, ImageDataset train, float maskRatio) {
        if (!(maskRatio > 0 && maskRatio < 1)) throw new IllegalArgumentException("--mask-ratio must be in (0, 1), got " + maskRatio);
        this.vit = vit;
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
        return new Batch(idx.length, x, rng != null ? rng.nextLong() : 0);
    }

    @Override public Var loss(Tape t, Batch b, long[] accuracy) {
        return vit.maskedPatchLoss(t, b.images(), b.size(), maskRatio, new SplittableRandom(b.maskSeed()));
    }

    @Override public TestReport evaluate() { return null; }
    @Override public Map<String, String> metadata() { return Map.of("mask_ratio", Float.toString(maskRatio)); }
    @Override public String name() { return "model=vit mask_ratio=" + maskRatio; }
    @Override public String accuracyName() { return null; }
    @Override public String chartTitle() { return "masked-patch pretraining: loss"; }
}
