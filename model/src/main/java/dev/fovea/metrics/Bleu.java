package dev.fovea.metrics;

import java.util.Arrays;
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
        return Counts.of(candidates, references, maxN).score();
    }

    /**
     * What corpus BLEU is made of, sums over the candidates (so the counts of parts of a corpus add up to the
     * corpus's): clipped n-gram matches and n-gram totals for n = 1..N, the candidates' length c and the references'
     * closest lengths r.
     */
    public record Counts(long[] matched, long[] total, long c, long r) {
        public static Counts of(List<List<String>> candidates, List<List<List<String>>> references, int maxN) {
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
            return new Counts(matched, total, c, r);
        }

        /** The counts as one array: matched[0..N), total[0..N), c, r (to be summed over the ranks of a test pass). */
        public long[] toArray() {
            int n = matched.length;
            long[] a = new long[2 * n + 2];
            System.arraycopy(matched, 0, a, 0, n);
            System.arraycopy(total, 0, a, n, n);
            a[2 * n] = c;
            a[2 * n + 1] = r;
            return a;
        }

        public static Counts fromArray(long[] a) {
            int n = (a.length - 2) / 2;
            return new Counts(Arrays.copyOfRange(a, 0, n), Arrays.copyOfRange(a, n, 2 * n), a[2 * n], a[2 * n + 1]);
        }

        /** The geometric mean of the precisions times the brevity penalty; 0 when some precision is 0. */
        public double score() {
            double logSum = 0;
            for (int n = 0; n < matched.length; n++) {
                if (matched[n] == 0) return 0;
                logSum += Math.log((double) matched[n] / total[n]);
            }
            double bp = c >= r ? 1 : c == 0 ? 0 : Math.exp(1 - (double) r / c);
            return bp * Math.exp(logSum / matched.length);
        }
    }

    private static Map<List<String>, Integer> ngrams(List<String> words, int n) {
        Map<List<String>, Integer> m = new HashMap<>();
        for (int i = 0; i + n <= words.size(); i++) m.merge(List.copyOf(words.subList(i, i + n)), 1, Integer::sum);
        return m;
    }
}
