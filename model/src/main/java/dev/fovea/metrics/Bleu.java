package dev.fovea.metrics;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Corpus-level BLEU (Papineni et al. 2002) as NLTK's {@code corpus_bleu} computes it without smoothing: n-gram
 * precisions for n = 1..N with each candidate's counts clipped by the most any one of its references has, summed
 * over the corpus, their geometric mean, times the brevity penalty exp(1 − r/c) when the candidates' total length c
 * is below r, the sum of each candidate's closest reference length (the shorter on a tie). 0 when some precision is 0.
 */
public final class Bleu {
    private Bleu() {}

    /** candidates.get(i) against references.get(i) (one or more each), all as word lists. */
    public static double corpus(List<List<String>> candidates, List<List<List<String>>> references, int maxN) {
        if (candidates.size() != references.size())
            throw new IllegalArgumentException("BLEU: " + candidates.size() + " candidates but " + references.size() + " reference sets");
        long[] matched = new long[maxN], total = new long[maxN];
        long c = 0, r = 0;
        for (int i = 0; i < candidates.size(); i++) {
            List<String> cand = candidates.get(i);
            List<List<String>> refs = references.get(i);
            if (refs.isEmpty()) throw new IllegalArgumentException("BLEU: candidate " + i + " has no reference");
            for (int n = 1; n <= maxN; n++) {
                Map<List<String>, Integer> counts = ngrams(cand, n), most = new HashMap<>();
                for (List<String> ref : refs) ngrams(ref, n).forEach((g, k) -> most.merge(g, k, Math::max));
                for (var e : counts.entrySet()) matched[n - 1] += Math.min(e.getValue(), most.getOrDefault(e.getKey(), 0));
                total[n - 1] += Math.max(0, cand.size() - n + 1);
            }
            c += cand.size();
            int best = refs.getFirst().size();
            for (List<String> ref : refs) {
                int d = Math.abs(ref.size() - cand.size()), bd = Math.abs(best - cand.size());
                if (d < bd || d == bd && ref.size() < best) best = ref.size();
            }
            r += best;
        }
        double logSum = 0;
        for (int n = 0; n < maxN; n++) {
            if (matched[n] == 0) return 0;
            logSum += Math.log((double) matched[n] / total[n]);
        }
        double bp = c >= r ? 1 : c == 0 ? 0 : Math.exp(1 - (double) r / c);
        return bp * Math.exp(logSum / maxN);
    }

    private static Map<List<String>, Integer> ngrams(List<String> words, int n) {
        Map<List<String>, Integer> m = new HashMap<>();
        for (int i = 0; i + n <= words.size(); i++) m.merge(List.copyOf(words.subList(i, i + n)), 1, Integer::sum);
        return m;
    }
}
