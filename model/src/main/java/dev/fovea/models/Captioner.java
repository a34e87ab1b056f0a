package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.Metadata;
import dev.fovea.nn.Module;
import dev.fovea.tensor.Tensor;
import dev.fovea.text.Vocabulary;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Image captioning: the scene model's encoder (convolutional stem and transformer blocks, one token per 8×8 cell)
 * and a {@link TransformerDecoder} that attends to those tokens. Trained with teacher forcing; captions are decoded
 * greedily with the key/value cache.
 */
public final class Captioner extends Module {
    public record Config(int imgSize, int inChans, int dim, int depth, int heads, int decoderDepth, int vocab, int maxLen) {
        /** The captioner Fovea trains by default: the standard scene encoder (width 64, 4 blocks of 4 heads) and a decoder of 2 blocks. */
        public static Config standard(int imgSize, int inChans, int vocab, int maxLen) {
            return new Config(imgSize, inChans, 64, 4, 4, 2, vocab, maxLen);
        }

        /** Its entries in a checkpoint's metadata (the vocabulary, which sets {@code vocab}, is stored beside them). */
        public Map<String, String> toMetadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("img_size", Integer.toString(imgSize));
            m.put("in_chans", Integer.toString(inChans));
            m.put("embed_dim", Integer.toString(dim));
            m.put("depth", Integer.toString(depth));
            m.put("num_heads", Integer.toString(heads));
            m.put("decoder_depth", Integer.toString(decoderDepth));
            m.put("max_len", Integer.toString(maxLen));
            return m;
        }

        public static Config fromMetadata(String source, Map<String, String> m, int vocab) {
            return new Config(Metadata.integer(source, m, "img_size"), Metadata.integer(source, m, "in_chans"), Metadata.integer(source, m, "embed_dim"),
                    Metadata.integer(source, m, "depth"), Metadata.integer(source, m, "num_heads"), Metadata.integer(source, m, "decoder_depth"), vocab,
                    Metadata.integer(source, m, "max_len"));
        }
    }

    private final Config cfg;
    public final SceneNet encoder;
    public final TransformerDecoder decoder;

    public Captioner(Backend be, Config cfg, long seed) {
        this.cfg = cfg;
        encoder = child("encoder", new SceneNet(be, new SceneNet.Config(cfg.imgSize(), cfg.inChans(), 1, cfg.dim(), cfg.depth(), cfg.heads(), false, false), seed));
        decoder = child("decoder", new TransformerDecoder(be, new TransformerDecoder.Config(cfg.vocab(), cfg.maxLen(), cfg.dim(), cfg.decoderDepth(), cfg.heads(), true), seed + 1));
    }

    public Config config() { return cfg; }

    /** The encoder's tokens [B, N, D] for images x [B, C, S, S]. */
    public Var encode(Tape t, Var x) { return encoder.forward(t, x); }

    /**
     * Teacher forcing: tokens [B][L] (begin, words, end, padding) → the mean cross-entropy of predicting each next
     * token, over the positions whose target is not padding. Returns {loss, logits of those positions [P, V]}.
     */
    public Var[] loss(Tape t, Var x, int[][] tokens) {
        Backend be = t.backend();
        int b = tokens.length, len = tokens[0].length - 1, v = cfg.vocab();
        float[] in = new float[b * len];
        float[] rows = new float[b * len], targets = new float[b * len];
        int p = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < len; j++) {
                in[i * len + j] = tokens[i][j];
                if (tokens[i][j + 1] == Vocabulary.PAD) continue;
                rows[p] = i * len + j;
                targets[p++] = tokens[i][j + 1];
            }
        Var logits = t.reshape(decoder.logits(t, in, b, len, encode(t, x)), b * len, v);
        // the positions that count, picked as rows of a table (the gather's backward scatters their gradients back)
        Var picked = t.embedding(logits, t.constant(be.upload(java.util.Arrays.copyOf(rows, p), p)));
        return new Var[]{t.crossEntropy(picked, t.constant(be.upload(java.util.Arrays.copyOf(targets, p), p)), 0f), picked};
    }

    /** Greedy captions (token ids without the marks) for images x [B, C, S, S] given as host floats. */
    public int[][] caption(Backend be, float[] x, int b, boolean cached) {
        Tensor memory;
        try (Tape t = Tape.inference(be)) {
            Var m = encode(t, t.constant(be.upload(x, b, cfg.inChans(), cfg.imgSize(), cfg.imgSize())));
            memory = be.empty(m.shape());
            be.copy(m.value(), memory);
        }
        try (memory) {
            return Decoding.greedy(decoder, be, memory, Vocabulary.BOS, Vocabulary.EOS, cfg.maxLen(), cached);
        }
    }
}
