package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.nn.DecoderBlock;
import dev.fovea.nn.Init;
import dev.fovea.nn.KvCache;
import dev.fovea.nn.LayerNorm;
import dev.fovea.nn.Linear;
import dev.fovea.nn.Module;
import dev.fovea.nn.ModuleList;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A Transformer language model, conditioned on an encoder's tokens (the captioning decoder) or, without
 * cross-attention, on nothing but its own prefix (GPT-2's decoder-only model, the image generator): token embeddings
 * and learned position embeddings, pre-norm decoder blocks (causal self-attention, cross-attention, MLP), a final
 * norm and a linear head over the vocabulary. Trained with teacher forcing ({@link #logits}); decoded greedily, by
 * beam search or by sampling, with a key/value cache per layer or, for comparison, recomputing the whole prefix at
 * every step.
 */
public final class TransformerDecoder extends Module implements Decoding.Decoder {
    /** @param maxLen the most positions (tokens, begin and end marks included) */
    public record Config(int vocab, int maxLen, int dim, int depth, int heads, boolean crossAttention) {
        public Config {
            if (vocab < 2) throw new IllegalArgumentException("decoder: a vocabulary of at least 2 tokens, got " + vocab);
            if (maxLen < 2) throw new IllegalArgumentException("decoder: at least 2 positions, got " + maxLen);
            if (dim % heads != 0) throw new IllegalArgumentException("decoder: width " + dim + " is not divisible by " + heads + " heads");
        }
    }

    private final Config cfg;
    public final Var tokEmbed, posEmbed;
    public final ModuleList blocks;
    public final LayerNorm norm;
    public final Linear head;
    private final List<DecoderBlock> layers = new ArrayList<>();

    public TransformerDecoder(Backend be, Config cfg, long seed) {
        this.cfg = cfg;
        Init init = new Init(seed);
        tokEmbed = param("tok_embed", init.truncNormal(be, 0.02f, cfg.vocab(), cfg.dim()));
        posEmbed = param("pos_embed", init.truncNormal(be, 0.02f, 1, cfg.maxLen(), cfg.dim()));
        blocks = child("blocks", new ModuleList());
        for (int i = 0; i < cfg.depth(); i++) {
            DecoderBlock blk = new DecoderBlock(be, init, cfg.dim(), cfg.heads(), 4f, 1e-6f, cfg.crossAttention());
            layers.add(blocks.add(blk));
        }
        norm = child("norm", new LayerNorm(be, init, cfg.dim(), 1e-6f));
        head = child("head", Linear.timm(be, init, cfg.dim(), cfg.vocab(), true));
    }

    public Config config() { return cfg; }

    /** Teacher forcing: ids [B·len] (row-major, as floats) and memory [B, M, D] (null if decoder-only) → logits [B, len, V]. */
    public Var logits(Tape t, float[] ids, int b, int len, Var memory) {
        return run(t, ids, b, len, 0, memory, null);
    }

    /** Positions [start, start + len) of ids [B·len]; with caches, as one step of decoding. */
    private Var run(Tape t, float[] ids, int b, int len, int start, Var memory, Caches caches) {
        if (start + len > cfg.maxLen()) throw new IllegalArgumentException("decoder: position " + (start + len) + " is past the " + cfg.maxLen() + " it has embeddings for");
        Backend be = t.backend();
        int d = cfg.dim();
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= cfg.vocab() || ids[i] != (int) ids[i])
                throw new IllegalArgumentException("decoder: token id " + ids[i] + " at " + i + " is not in the vocabulary [0, " + cfg.vocab() + ")");
        Var x = t.reshape(t.embedding(tokEmbed, t.constant(be.upload(ids, b * len))), b, len, d);
        x = t.add(x, t.reshape(t.slice(posEmbed, 1, start, len), len, d));
        for (int l = 0; l < layers.size(); l++)
            x = layers.get(l).forward(t, x, memory, caches == null ? null : caches.self[l], caches == null ? null : caches.cross[l]);
        return head.forward(t, norm.forward(t, x));
    }

    @Override public Caches newCache(Backend be) { return new Caches(be); }
    @Override public int vocab() { return cfg.vocab(); }
    @Override public int maxLen() { return cfg.maxLen(); }
    @Override public boolean hasCrossAttention() { return cfg.crossAttention(); }

    /** Every layer's caches for one batch of sequences. */
    public final class Caches implements Decoding.Cache {
        final KvCache[] self, cross;
        int length;

        Caches(Backend be) {
            self = new KvCache[layers.size()];
            cross = new KvCache[layers.size()];
            for (int l = 0; l < self.length; l++) {
                self[l] = new KvCache(be);
                cross[l] = cfg.crossAttention() ? new KvCache(be) : null;
            }
        }

        /** Keeps the sequences {@code rows} (beam search's survivors), in that order. */
        @Override public void select(Backend be, int[] rows) {
            float[] r = new float[rows.length];
            for (int i = 0; i < r.length; i++) r[i] = rows[i];
            try (Tensor idx = be.upload(r, r.length)) {
                for (int l = 0; l < self.length; l++) {
                    self[l].select(idx);
                    if (cross[l] != null) cross[l].select(idx);
                }
            }
        }

        @Override public void close() {
            for (int l = 0; l < self.length; l++) {
                self[l].close();
                if (cross[l] != null) cross[l].close();
            }
        }
    }

    /**
     * The next-token log-probabilities [B, V] after each sequence's tokens so far (seqs[i], all of one length),
     * through the cache (feeding only what it has not seen) or, when {@code caches} is null, from scratch.
     */
    @Override public float[] next(Backend be, Tensor memory, int[][] seqs, Decoding.Cache cache) {
        Caches caches = (Caches) cache;
        int b = seqs.length, len = seqs[0].length;
        try (Tape t = Tape.inference(be)) {
            Var mem = memory == null ? null : t.constantView(memory);
            int from = caches == null ? 0 : caches.length;
            float[] ids = new float[b * (len - from)];
            for (int i = 0; i < b; i++) for (int j = from; j < len; j++) ids[i * (len - from) + j - from] = seqs[i][j];
            Var lg = run(t, ids, b, len - from, from, mem, caches);                  // [B, len − from, V]
            if (caches != null) caches.length = len;
            int v = cfg.vocab(), last = len - from - 1;
            float[] all = lg.value().toArray(), out = new float[b * v];
            for (int i = 0; i < b; i++) {
                int off = (i * (len - from) + last) * v;
                float m = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) m = Math.max(m, all[off + j]);
                double s = 0;
                for (int j = 0; j < v; j++) s += Math.exp(all[off + j] - m);
                float lse = m + (float) Math.log(s);
                for (int j = 0; j < v; j++) out[i * v + j] = all[off + j] - lse;
            }
            return out;
        }
    }
}
