package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.ImageTokens;
import dev.fovea.io.Metadata;
import dev.fovea.nn.Module;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A class-conditional image generator: a decoder-only Transformer over {@link ImageTokens} (an image as 49 tokens of
 * 2×2 quantised pixels). The sequence is [class mark, t1, ..., t49]: the class is a token of its own, after the 256
 * image tokens in the vocabulary, and each image token is predicted from the class and the tokens before it
 * (causal attention), as a language model predicts the next word. Sampling draws t1..t49 one at a time.
 */
public final class ImageGenerator extends Module {
    public record Config(ImageTokens tokens, int classes, int dim, int depth, int heads) {
        /** The generator Fovea trains by default: width 128, 4 blocks of 8 heads. */
        public static Config standard(ImageTokens tokens, int classes) { return new Config(tokens, classes, 128, 4, 8); }

        /** Its entries in a checkpoint's metadata: the image tokens and the model's shape. */
        public Map<String, String> toMetadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("image_side", Integer.toString(tokens.side()));
            m.put("downsample", Integer.toString(tokens.down()));
            m.put("levels", Integer.toString(tokens.levels()));
            m.put("token_patch", Integer.toString(tokens.patch()));
            m.put("num_classes", Integer.toString(classes));
            m.put("embed_dim", Integer.toString(dim));
            m.put("depth", Integer.toString(depth));
            m.put("num_heads", Integer.toString(heads));
            return m;
        }

        public static Config fromMetadata(String source, Map<String, String> m) {
            ImageTokens tk = new ImageTokens(Metadata.integer(source, m, "image_side"), Metadata.integer(source, m, "downsample"),
                    Metadata.integer(source, m, "levels"), Metadata.integer(source, m, "token_patch"));
            return new Config(tk, Metadata.integer(source, m, "num_classes"), Metadata.integer(source, m, "embed_dim"), Metadata.integer(source, m, "depth"),
                    Metadata.integer(source, m, "num_heads"));
        }
    }

    private final Config cfg;
    public final TransformerDecoder decoder;

    public ImageGenerator(Backend be, Config cfg, long seed) {
        this.cfg = cfg;
        decoder = child("decoder", new TransformerDecoder(be, new TransformerDecoder.Config(cfg.tokens().vocab() + cfg.classes(), cfg.tokens().length(),
                cfg.dim(), cfg.depth(), cfg.heads(), false), seed));
    }

    public Config config() { return cfg; }

    /** The token that starts a sequence of class c. */
    public int classMark(int c) {
        if (c < 0 || c >= cfg.classes()) throw new IllegalArgumentException("generator: class " + c + " is not in [0, " + cfg.classes() + ")");
        return cfg.tokens().vocab() + c;
    }

    /**
     * Teacher forcing: images' tokens [B][49] and their classes → the mean cross-entropy (nats) of predicting each
     * image token from the class and the tokens before it, over all B·49 tokens.
     */
    public Var loss(Tape t, int[][] tokens, int[] labels) {
        Backend be = t.backend();
        int b = tokens.length, n = cfg.tokens().length();
        float[] in = new float[b * n], target = new float[b * n];
        for (int i = 0; i < b; i++) {
            if (tokens[i].length != n) throw new IllegalArgumentException("generator: image " + i + " has " + tokens[i].length + " tokens, expected " + n);
            in[i * n] = classMark(labels[i]);
            for (int j = 0; j < n; j++) {
                if (j > 0) in[i * n + j] = tokens[i][j - 1];
                target[i * n + j] = tokens[i][j];
            }
        }
        Var logits = t.reshape(decoder.logits(t, in, b, n, null), b * n, decoder.config().vocab());   // [B·49, V]
        return t.crossEntropy(logits, t.constant(be.upload(target, b * n)), 0f);
    }

    /** Bits per dimension (per pixel of the quantised image) of a mean cross-entropy in nats per token. */
    public double bitsPerDim(double natsPerToken) {
        return natsPerToken * cfg.tokens().length() / cfg.tokens().dims() / Math.log(2);
    }

    /** One sampled image's tokens [49] per requested class; temperature 1 samples the model as it is. */
    public int[][] sample(Backend be, int[] classes, float temperature, SplittableRandom rng, boolean cached) {
        int[][] prefix = new int[classes.length][];
        for (int i = 0; i < classes.length; i++) prefix[i] = new int[]{classMark(classes[i])};
        return Decoding.sample(decoder, be, prefix, cfg.tokens().length(), cfg.tokens().vocab(), temperature, rng, cached);
    }
}
