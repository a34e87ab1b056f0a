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
import dev.fovea.nn.Sequential;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A Transformer language model, conditioned on an encoder's tokens (the captioning decoder) or, without
 * cross-attention, on nothing but its own prefix (GPT-2's decoder-only model, the image generator): token embeddings
 * and learned position embeddings, pre-norm decoder blocks (causal self-attention, cross-attention, MLP), a final
 * norm and a linear head over the vocabulary. Trained with teacher forcing ({@link #logits}); decoded greedily, by
 * beam search or by sampling, with a key/value cache per layer or, for comparison, recomputing the whole prefix at
 * every step.
 */
public final class TransformerDecoder extends Module {
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
    public final Sequential blocks;
    public final LayerNorm norm;
    public final Linear head;
    private final List<DecoderBlock> layers = new ArrayList<>();

    public TransformerDecoder(Backend be, Config cfg, long seed) {
        this.cfg = cfg;
        Init init = new Init(seed);
        tokEmbed = param("tok_embed", init.truncNormal(be, 0.02f, cfg.vocab(), cfg.dim()));
        posEmbed = param("pos_embed", init.truncNormal(be, 0.02f, 1, cfg.maxLen(), cfg.dim()));
        blocks = child("blocks", new Sequential());
        for (int i = 0; i < cfg.depth(); i++) {
            DecoderBlock blk = new DecoderBlock(be, init, cfg.dim(), cfg.heads(), 4f, 1e-6f, cfg.crossAttention());
            blocks.add(Integer.toString(i), blk);
            layers.add(blk);
        }
        norm = child("norm", new LayerNorm(be, init, cfg.dim(), 1e-6f));
        head = child("head", Linear.timm(be, init, cfg.dim(), cfg.vocab(), true));
    }

    public Config config() { return cfg; }

    @Override public Var forward(Tape t, Var x) { throw new UnsupportedOperationException("the decoder needs token ids and the encoder's tokens: logits(t, ids, b, len, memory)"); }

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

    /** Every layer's caches for one batch of sequences. */
    public final class Caches implements AutoCloseable {
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
        void select(Backend be, int[] rows) {
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
    private float[] next(Backend be, Tensor memory, int[][] seqs, Caches caches) {
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

    /**
     * Sampling, for a decoder-only model: each row of {@code prefixes} (all of one length) continued by {@code steps}
     * tokens, each drawn from softmax(logits / temperature) over the tokens [0, allowed) only (the vocabulary's other
     * tokens, such as class marks, never follow). Temperature 0 takes the most probable token. Returns the new tokens.
     */
    public int[][] sample(Backend be, int[][] prefixes, int steps, int allowed, float temperature, java.util.SplittableRandom rng, boolean cached) {
        if (cfg.crossAttention()) throw new IllegalStateException("sampling without encoder tokens needs a decoder-only model");
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        if (allowed < 1 || allowed > cfg.vocab()) throw new IllegalArgumentException("sampling: allowed tokens [0, " + allowed + ") not within the vocabulary of " + cfg.vocab());
        int b = prefixes.length, start = prefixes[0].length, v = cfg.vocab();
        // the last token drawn is never fed back: the positions used are [0, start + steps − 1)
        if (start < 1 || start + steps - 1 > cfg.maxLen()) throw new IllegalArgumentException("sampling: a prefix of " + start + " and " + steps + " steps do not fit the " + cfg.maxLen() + " positions");
        int[][] seqs = new int[b][];
        for (int i = 0; i < b; i++) {
            if (prefixes[i].length != start) throw new IllegalArgumentException("sampling: prefixes of different lengths (" + start + ", " + prefixes[i].length + ")");
            seqs[i] = Arrays.copyOf(prefixes[i], start + steps);
        }
        double[] p = new double[allowed];
        try (Caches c = cached ? new Caches(be) : null) {
            for (int s = 0; s < steps; s++) {
                int len = start + s;
                int[][] now = new int[b][];
                for (int i = 0; i < b; i++) now[i] = Arrays.copyOf(seqs[i], len);
                float[] lp = next(be, null, now, c);
                for (int i = 0; i < b; i++) {
                    int off = i * v, tok = argmax(lp, off, allowed);
                    if (temperature > 0) {
                        double sum = 0, max = lp[off + tok];
                        for (int j = 0; j < allowed; j++) sum += p[j] = Math.exp((lp[off + j] - max) / temperature);
                        double u = rng.nextDouble() * sum;
                        tok = allowed - 1;
                        for (int j = 0; j < allowed; j++) if ((u -= p[j]) < 0) { tok = j; break; }
                    }
                    seqs[i][len] = tok;
                }
            }
        }
        int[][] out = new int[b][];
        for (int i = 0; i < b; i++) out[i] = Arrays.copyOfRange(seqs[i], start, start + steps);
        return out;
    }

    /**
     * Greedy decoding of a batch: memory [B, M, D]; each sequence starts with {@code bos} and ends at {@code eos} or
     * after {@code maxLen} positions. Returns the tokens after bos (eos excluded).
     */
    public int[][] greedy(Backend be, Tensor memory, int bos, int eos, int maxLen, boolean cached) {
        int b = memory.dim(0);
        maxLen = Math.min(maxLen, cfg.maxLen());
        int[][] seqs = new int[b][1];
        for (int[] s : seqs) s[0] = bos;
        boolean[] done = new boolean[b];
        try (Caches c = cached ? new Caches(be) : null) {
            for (int len = 1; len < maxLen; len++) {
                float[] lp = next(be, memory, seqs, c);
                boolean all = true;
                for (int i = 0; i < b; i++) {
                    int tok = done[i] ? eos : argmax(lp, i * cfg.vocab(), cfg.vocab());
                    seqs[i] = Arrays.copyOf(seqs[i], len + 1);
                    seqs[i][len] = tok;
                    done[i] |= tok == eos;
                    all &= done[i];
                }
                if (all) break;
            }
        }
        int[][] out = new int[b][];
        for (int i = 0; i < b; i++) out[i] = strip(seqs[i], eos);
        return out;
    }

    /**
     * Beam search for one sequence (memory [1, M, D]): keeps the {@code width} most probable prefixes (sum of
     * log-probabilities), a prefix that ends with eos is finished; stops when the best finished one beats every
     * open one or at {@code maxLen}. Returns the best tokens after bos (eos excluded). Width 1 is greedy decoding.
     */
    public int[] beam(Backend be, Tensor memory, int bos, int eos, int maxLen, int width, boolean cached) {
        if (memory.dim(0) != 1) throw new IllegalArgumentException("beam search: one sequence at a time, memory " + dev.fovea.tensor.Shape.str(memory.shape()));
        if (width < 1) throw new IllegalArgumentException("beam search: width must be >= 1, got " + width);
        maxLen = Math.min(maxLen, cfg.maxLen());
        int v = cfg.vocab();
        List<int[]> open = new ArrayList<>(List.of(new int[]{bos}));
        List<Double> scores = new ArrayList<>(List.of(0.0));
        int[] best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        try (Caches c = cached ? new Caches(be) : null) {
            for (int len = 1; len < maxLen && !open.isEmpty(); len++) {
                int n = open.size();
                float[] lp;
                try (Tensor mem = repeat(be, memory, n)) {
                    lp = next(be, mem, open.toArray(int[][]::new), c);
                }
                // the width best extensions over all open prefixes
                record Ext(int parent, int tok, double score) {}
                List<Ext> exts = new ArrayList<>();
                for (int i = 0; i < n; i++) for (int j = 0; j < v; j++) exts.add(new Ext(i, j, scores.get(i) + lp[i * v + j]));
                exts.sort((a, b2) -> Double.compare(b2.score(), a.score()));
                List<int[]> nextOpen = new ArrayList<>();
                List<Double> nextScores = new ArrayList<>();
                List<Integer> parents = new ArrayList<>();
                for (Ext e : exts) {
                    if (nextOpen.size() == width || e.score() <= bestScore) break;
                    int[] seq = Arrays.copyOf(open.get(e.parent()), len + 1);
                    seq[len] = e.tok();
                    if (e.tok() == eos) {
                        if (e.score() > bestScore) { bestScore = e.score(); best = seq; }
                        continue;
                    }
                    nextOpen.add(seq);
                    nextScores.add(e.score());
                    parents.add(e.parent());
                }
                if (c != null && !nextOpen.isEmpty()) c.select(be, parents.stream().mapToInt(Integer::intValue).toArray());
                open = nextOpen;
                scores = nextScores;
            }
        }
        if (best == null || !open.isEmpty() && scores.getFirst() > bestScore) best = open.getFirst();
        return strip(best, eos);
    }

    /** memory [1, M, D] repeated n times: [n, M, D]. */
    private static Tensor repeat(Backend be, Tensor memory, int n) {
        int[] s = memory.shape();
        s[0] = n;
        Tensor out = be.empty(s);
        int rest = memory.numel();
        try (Tensor idx = be.zeros(n)) { be.gather(memory.reshape(1, rest), idx, out.reshape(n, rest)); }
        return out;
    }

    private static int[] strip(int[] seq, int eos) {
        int end = 1;
        while (end < seq.length && seq[end] != eos) end++;
        return Arrays.copyOfRange(seq, 1, end);
    }

    private static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (v[off + j] > v[off + best]) best = j;
        return best;
    }
}
