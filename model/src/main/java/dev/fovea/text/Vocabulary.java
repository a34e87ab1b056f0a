package dev.fovea.text;

import dev.fovea.io.Json;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A word-level caption vocabulary: lower-cased words (letters, digits, hyphens and apostrophes; everything else
 * separates them), the four special tokens first — padding 0, begin 1, end 2, unknown 3 — then the words, most
 * frequent first (ties alphabetically), so that the same captions always give the same ids.
 */
public final class Vocabulary {
    public static final int PAD = 0, BOS = 1, EOS = 2, UNK = 3;
    private static final List<String> SPECIALS = List.of("<pad>", "<bos>", "<eos>", "<unk>");

    private final List<String> words;
    private final Map<String, Integer> ids = new HashMap<>();

    private Vocabulary(List<String> words) {
        this.words = List.copyOf(words);
        for (int i = 0; i < words.size(); i++) ids.put(words.get(i), i);
    }

    /** The words of a caption, as the vocabulary sees them. */
    public static List<String> words(String caption) {
        List<String> out = new ArrayList<>();
        for (String w : caption.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}'-]+")) if (!w.isEmpty()) out.add(w);
        return out;
    }

    /** Every word of the captions that occurs at least {@code minCount} times. */
    public static Vocabulary build(Iterable<String> captions, int minCount) {
        Map<String, Integer> counts = new TreeMap<>();
        for (String c : captions) for (String w : words(c)) counts.merge(w, 1, Integer::sum);
        List<String> ws = new ArrayList<>(SPECIALS);
        counts.entrySet().stream().filter(e -> e.getValue() >= minCount)
                .sorted((a, b) -> a.getValue().equals(b.getValue()) ? a.getKey().compareTo(b.getKey()) : b.getValue() - a.getValue())
                .forEach(e -> ws.add(e.getKey()));
        return new Vocabulary(ws);
    }

    public int size() { return words.size(); }
    public String word(int id) { return words.get(id); }

    /** The id of a word, {@link #UNK} for one it does not know. */
    public int id(String word) { return ids.getOrDefault(word, UNK); }

    /**
     * begin, the caption's word ids, end, then padding up to {@code length} positions. An empty caption, or one
     * with more than length − 2 words, is an error naming it.
     */
    public int[] encode(String caption, int length) {
        List<String> ws = words(caption);
        if (ws.isEmpty()) throw new IllegalArgumentException("caption \"" + caption + "\" has no words");
        if (ws.size() > length - 2)
            throw new IllegalArgumentException("caption \"" + caption + "\" has " + ws.size() + " words; at most " + (length - 2) + " fit " + length + " positions with its begin and end marks");
        int[] out = new int[length];
        out[0] = BOS;
        for (int i = 0; i < ws.size(); i++) out[i + 1] = id(ws.get(i));
        out[ws.size() + 1] = EOS;
        return out;
    }

    /** The words of ids, up to the first end mark, padding and begin marks left out. */
    public String decode(int[] tokens) {
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) {
            if (t == EOS) break;
            if (t == PAD || t == BOS) continue;
            if (t < 0 || t >= words.size()) throw new IllegalArgumentException("token id " + t + " is not in the vocabulary of " + words.size());
            sb.append(sb.isEmpty() ? "" : " ").append(words.get(t));
        }
        return sb.toString();
    }

    /** The words in id order, as a JSON array (checkpoint metadata). */
    public String toJson() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < words.size(); i++) sb.append(i > 0 ? "," : "").append(Json.quote(words.get(i)));
        return sb.append(']').toString();
    }

    public static Vocabulary fromJson(String source, String json) {
        try {
            List<String> ws = new ArrayList<>();
            for (Object o : (List<?>) Json.parse(json)) ws.add((String) o);
            if (ws.size() < SPECIALS.size() || !ws.subList(0, SPECIALS.size()).equals(SPECIALS))
                throw new IllegalArgumentException(source + ": a vocabulary starts with " + SPECIALS + ", got " + ws.subList(0, Math.min(4, ws.size())));
            return new Vocabulary(ws);
        } catch (Json.ParseException | ClassCastException e) {
            throw new IllegalArgumentException(source + ": bad vocabulary: " + e.getMessage());
        }
    }

    @Override public boolean equals(Object o) { return o instanceof Vocabulary v && v.words.equals(words); }
    @Override public int hashCode() { return words.hashCode(); }
    @Override public String toString() { return "Vocabulary[" + words.size() + " words]"; }
}
