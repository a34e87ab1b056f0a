package dev.fovea.models;

import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Decoding strategies over any decoder that gives next-token log-probabilities through a key/value cache: sampling
 * (with a temperature), greedy decoding and beam search. With a cache each step feeds only the newest token; without,
 * every step runs the whole prefix again (the reference the cached path is tested against).
 */
public final class Decoding {
    private Decoding() {}

    /** What decoding needs of a model. */
    public interface Decoder {
        int vocab();

        int maxLen();

        /** Whether it reads an encoder's memory (a captioner's decoder) or not (decoder-only). */
        boolean hasCrossAttention();

        /** An empty cache for one batch of sequences. */
        Cache newCache(Backend be);

        /**
         * The next-token log-probabilities [B, V] after each sequence's tokens so far (seqs[i], all of one length), given
         * memory [B, M, D] (null for decoder-only), through {@code cache} (feeding only what it has not seen) or, when
         * it is null, from scratch.
         */
        float[] next(Backend be, Tensor memory, int[][] seqs, Cache cache);
    }

    /** A decoder's keys and values of the tokens fed so far, per sequence. */
    public interface Cache extends AutoCloseable {
        /** Keeps the sequences {@code rows} (beam search's survivors), in that order. */
        void select(Backend be, int[] rows);

        @Override void close();
    }

    /**
     * Sampling, for a decoder-only model: each row of {@code prefixes} (all of one length) continued by {@code steps}
     * tokens, each drawn from softmax(logits / temperature) over the tokens [0, allowed) only (the vocabulary's other
     * tokens, such as class marks, never follow). Temperature 0 takes the most probable token. Returns the new tokens.
     */
    public static int[][] sample(Decoder d, Backend be, int[][] prefixes, int steps, int allowed, float temperature, java.util.SplittableRandom rng, boolean cached) {
        if (d.hasCrossAttention()) throw new IllegalStateException("sampling without encoder tokens needs a decoder-only model");
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        if (allowed < 1 || allowed > d.vocab()) throw new IllegalArgumentException("sampling: allowed tokens [0, " + allowed + ") not within the vocabulary of " + d.vocab());
        int b = prefixes.length, start = prefixes[0].length, v = d.vocab();
        // the last token drawn is never fed back: the positions used are [0, start + steps − 1)
        if (start < 1 || start + steps - 1 > d.maxLen()) throw new IllegalArgumentException("sampling: a prefix of " + start + " and " + steps + " steps do not fit the " + d.maxLen() + " positions");
        int[][] seqs = new int[b][];
        for (int i = 0; i < b; i++) {
            if (prefixes[i].length != start) throw new IllegalArgumentException("sampling: prefixes of different lengths (" + start + ", " + prefixes[i].length + ")");
            seqs[i] = Arrays.copyOf(prefixes[i], start + steps);
        }
        double[] p = new double[allowed];
        try (Cache c = cached ? d.newCache(be) : null) {
            for (int s = 0; s < steps; s++) {
                int len = start + s;
                int[][] now = new int[b][];
                for (int i = 0; i < b; i++) now[i] = Arrays.copyOf(seqs[i], len);
                float[] lp = d.next(be, null, now, c);
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
    public static int[][] greedy(Decoder d, Backend be, Tensor memory, int bos, int eos, int maxLen, boolean cached) {
        int b = memory.dim(0);
        maxLen = Math.min(maxLen, d.maxLen());
        int[][] seqs = new int[b][1];
        for (int[] s : seqs) s[0] = bos;
        boolean[] done = new boolean[b];
        try (Cache c = cached ? d.newCache(be) : null) {
            for (int len = 1; len < maxLen; len++) {
                float[] lp = d.next(be, memory, seqs, c);
                boolean all = true;
                for (int i = 0; i < b; i++) {
                    int tok = done[i] ? eos : argmax(lp, i * d.vocab(), d.vocab());
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
    public static int[] beam(Decoder d, Backend be, Tensor memory, int bos, int eos, int maxLen, int width, boolean cached) {
        if (memory.dim(0) != 1) throw new IllegalArgumentException("beam search: one sequence at a time, memory " + dev.fovea.tensor.Shape.str(memory.shape()));
        if (width < 1) throw new IllegalArgumentException("beam search: width must be >= 1, got " + width);
        maxLen = Math.min(maxLen, d.maxLen());
        int v = d.vocab();
        List<int[]> open = new ArrayList<>(List.of(new int[]{bos}));
        List<Double> scores = new ArrayList<>(List.of(0.0));
        int[] best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        try (Cache c = cached ? d.newCache(be) : null) {
            for (int len = 1; len < maxLen && !open.isEmpty(); len++) {
                int n = open.size();
                float[] lp;
                try (Tensor mem = repeat(be, memory, n)) {
                    lp = d.next(be, mem, open.toArray(int[][]::new), c);
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
