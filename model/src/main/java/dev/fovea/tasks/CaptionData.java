package dev.fovea.tasks;

import dev.fovea.data.coco.CocoCaptions;
import dev.fovea.data.coco.CocoDataset;
import dev.fovea.data.coco.CocoImages;
import dev.fovea.text.Vocabulary;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A captions split in memory: the images (as {@link CocoImages}) and each image's captions, as text and as token
 * ids of a fixed length (begin, words, end, padding). Images without captions are left out.
 */
public final class CaptionData {
    private final CocoImages images;
    private final List<List<String>> captions;
    private final List<int[][]> tokens;
    private final Vocabulary vocab;
    private final int length;

    private CaptionData(CocoImages images, List<List<String>> captions, Vocabulary vocab, int length) {
        this.images = images;
        this.captions = captions;
        this.vocab = vocab;
        this.length = length;
        this.tokens = new ArrayList<>();
        for (List<String> cs : captions) {
            int[][] t = new int[cs.size()][];
            for (int j = 0; j < t.length; j++) t[j] = vocab.encode(cs.get(j), length);
            tokens.add(t);
        }
    }

    /**
     * {@code DIR/captions.json} with the images in {@code DIR/images} (or DIR). With a null vocabulary, one is built
     * from these captions (words seen at least twice) and the length fits the longest caption; otherwise a caption
     * longer than {@code length} is an error naming it.
     */
    public static CaptionData load(Path dir, Vocabulary vocab, int length) throws IOException {
        Path file = dir.resolve("captions.json");
        if (!Files.isRegularFile(file))
            throw new NoSuchFileException(file + " (a captions split holds captions.json, COCO's captions format, and its images; `fovea scenes` writes one)");
        CocoCaptions caps = CocoCaptions.read(file);
        List<CocoDataset.Image> with = new ArrayList<>();
        List<List<String>> texts = new ArrayList<>();
        for (CocoDataset.Image im : caps.images())
            if (!caps.captions(im.id()).isEmpty()) {
                with.add(im);
                texts.add(caps.captions(im.id()));
            }
        if (with.isEmpty()) throw new IllegalArgumentException(file + ": no image has a caption");
        Path imageDir = Files.isDirectory(dir.resolve("images")) ? dir.resolve("images") : dir;
        CocoImages px = CocoImages.load(new CocoDataset(file, imageDir, List.of(), with, List.of()));
        if (vocab == null) {
            List<String> all = new ArrayList<>();
            texts.forEach(all::addAll);
            vocab = Vocabulary.build(all, 2);
            int longest = 0;
            for (String c : all) longest = Math.max(longest, Vocabulary.words(c).size());
            length = longest + 2;
        }
        CaptionData d;
        try {
            d = new CaptionData(px, texts, vocab, length);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
        Unknown u = d.unknownWords();
        // a few rare words are normal in real caption sets; a fifth of them unknown means other captions altogether
        if (u.count() * 5 > u.total())
            throw new IllegalArgumentException(file + ": vocabulary mismatch: " + u + "; the vocabulary (" + (vocab.size() - 4)
                    + " words) was built from other captions");
        return d;
    }

    /** Word occurrences the vocabulary does not know, of all the captions' words; a few of them as examples. */
    public record Unknown(long count, long total, List<String> examples) {
        @Override public String toString() {
            return String.format(java.util.Locale.ROOT, "%d of %d words (%.1f %%) are not in the vocabulary, such as %s", count, total, 100.0 * count / total, examples);
        }
    }

    public Unknown unknownWords() {
        long count = 0, total = 0;
        java.util.Set<String> examples = new java.util.LinkedHashSet<>();
        for (List<String> cs : captions)
            for (String c : cs)
                for (String w : Vocabulary.words(c)) {
                    total++;
                    if (vocab.id(w) == Vocabulary.UNK) {
                        count++;
                        if (examples.size() < 5) examples.add(w);
                    }
                }
        return new Unknown(count, total, List.copyOf(examples));
    }

    public CocoImages images() { return images; }
    public int count() { return captions.size(); }
    public Vocabulary vocabulary() { return vocab; }
    /** Token positions per caption, the marks included. */
    public int length() { return length; }
    public List<String> captions(int i) { return captions.get(i); }
    public int[][] tokens(int i) { return tokens.get(i); }
}
