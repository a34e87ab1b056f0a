package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.Metadata;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.metrics.Bleu;
import dev.fovea.models.Captioner;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.Collective;
import dev.fovea.train.Trainer;
import dev.fovea.train.TrainingTask;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Captioning: teacher forcing on one of each image's captions, drawn anew every epoch from the epoch's stream, and
 * evaluation by greedy decoding against all of an image's captions: corpus BLEU-4 and exact match (the caption
 * equals one of them, word for word).
 */
public final class CaptionTask implements TrainingTask<CaptionTask.Batch> {
    /** The model name captioning checkpoints record. */
    public static final String MODEL = "captioner";
    /** Test images captioned at a time. */
    static final int EVAL_BATCH = 250;

    /** Normalised images [size, C, S, S] and one caption's tokens for each. */
    public record Batch(int size, float[] images, int[][] tokens) {}

    private final Backend be;
    private final Captioner net;
    private final CaptionData train, test;
    private final float[] pixelStats;

    /** Checks before any step that both splits' images are of the model's size and channels. */
    public CaptionTask(Backend be, Captioner net, CaptionData train, CaptionData test, float[] pixelStats) {
        Captioner.Config c = net.config();
        for (var d : List.of(train, test))
            if (d.images().height() != c.imgSize() || d.images().width() != c.imgSize() || d.images().channels() != c.inChans())
                throw new IllegalArgumentException((d == train ? "training" : "test") + " captions' images are " + d.images().channels() + "x"
                        + d.images().height() + "x" + d.images().width() + ", the model takes " + c.inChans() + "x" + c.imgSize() + "x" + c.imgSize());
        this.be = be;
        this.net = net;
        this.train = train;
        this.test = test;
        this.pixelStats = pixelStats;
    }

    @Override public int trainCount() { return train.count(); }

    @Override public Batch prepare(int[] idx, SplittableRandom rng) {
        int[][] tokens = new int[idx.length][];
        for (int i = 0; i < idx.length; i++) {
            int[][] all = train.tokens(idx[i]);
            tokens[i] = all[rng != null ? rng.nextInt(all.length) : 0];
        }
        return new Batch(idx.length, images(train, idx, pixelStats[0], pixelStats[1]), tokens);
    }

    @Override public Batch slice(Batch b, int from, int to) {
        Captioner.Config c = net.config();
        int n = c.inChans() * c.imgSize() * c.imgSize();
        return new Batch(to - from, java.util.Arrays.copyOfRange(b.images(), from * n, to * n), java.util.Arrays.copyOfRange(b.tokens(), from, to));
    }

    /** The loss is a mean over the tokens predicted: those after the start mark, up to the padding. */
    @Override public double weight(Batch b) {
        long n = 0;
        for (int[] caption : b.tokens())
            for (int j = 1; j < caption.length && caption[j] != Vocabulary.PAD; j++) n++;
        return n;
    }

    /** Its loss, and as accuracy the next tokens predicted right. */
    @Override public Var loss(Tape t, Batch b, long[] accuracy) {
        Captioner.Config c = net.config();
        Var[] out = net.loss(t, t.constant(be.upload(b.images(), b.size(), c.inChans(), c.imgSize(), c.imgSize())), b.tokens());
        float[] lg = out[1].value().toArray();
        int v = c.vocab(), p = 0;
        for (int[] caption : b.tokens())
            for (int j = 1; j < caption.length && caption[j] != Vocabulary.PAD; j++, p++) {
                accuracy[1]++;
                if (Trainer.argmax(lg, p * v, v) == caption[j]) accuracy[0]++;
            }
        return out[0];
    }

    @Override public TestReport evaluate(Collective ranks) {
        Report r = evaluate(be, net, test, pixelStats, EVAL_BATCH, ranks);
        if (r == null) return null;
        return new TestReport(Double.NaN, r.exact(), String.format(Locale.ROOT, "test bleu4=%.4f exact=%.4f (\"%s\")", r.bleu4(), r.exact(), r.captions().getFirst()),
                String.format(Locale.ROOT, "bleu4=%.4f exact=%.4f", r.bleu4(), r.exact()));
    }

    @Override public Map<String, String> metadata() { return metadata(net.config(), train.vocabulary(), pixelStats); }
    @Override public String name() { return "task=caption"; }
    @Override public String accuracyName() { return "token acc"; }
    @Override public String chartTitle() { return "caption: loss and exact match (in the accuracy column)"; }

    /** What a captioning checkpoint records beside the weights: the model's shape, its vocabulary, the pixel normalisation. */
    public static Map<String, String> metadata(Captioner.Config c, Vocabulary v, float[] stats) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", "caption");
        m.putAll(c.toMetadata());
        m.put("vocabulary", v.toJson());
        m.put("pixel_mean", Float.toString(stats[0]));
        m.put("pixel_std", Float.toString(stats[1]));
        return m;
    }

    /** A captioning checkpoint's model (its weights loaded), vocabulary, pixel normalisation and run. */
    public record Loaded(Captioner net, Vocabulary vocab, float[] stats, Checkpoint.Info info) implements AutoCloseable {
        @Override public void close() { net.close(); }
    }

    public static Loaded load(Backend be, Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            Map<String, String> m = f.metadata();
            if (!"caption".equals(m.get("task"))) throw new IllegalArgumentException(file + ": not a captioning checkpoint (its task is " + m.get("task") + ")");
            Vocabulary v = Vocabulary.fromJson(file.toString(), m.get("vocabulary"));
            Captioner.Config c = Captioner.Config.fromMetadata(file.toString(), m, v.size());
            float[] stats = {Metadata.number(file.toString(), m, "pixel_mean"), Metadata.number(file.toString(), m, "pixel_std")};
            Captioner net = Checkpoint.loadModel(f, new Captioner(be, c, info.config().seed()), be);
            return new Loaded(net, v, stats, info);
        }
    }

    static float[] images(CaptionData d, int[] idx, float mean, float std) {
        int n = d.images().channels() * d.images().height() * d.images().width();
        float[] x = new float[idx.length * n];
        for (int i = 0; i < idx.length; i++) d.images().unit(idx[i], x, i * n);
        for (int k = 0; k < x.length; k++) x[k] = (x[k] - mean) / std;
        return x;
    }

    /** BLEU-4 and exact match of greedy captions, and the captions themselves (those of rank 0's share under several ranks). */
    public record Report(double bleu4, double exact, List<String> captions) {}

    public static Report evaluate(Backend be, Captioner net, CaptionData data, float[] pixelStats, int batch) {
        return evaluate(be, net, data, pixelStats, batch, Collective.single());
    }

    /**
     * Each rank captions its share of the images; BLEU's counts and the exact matches are sums, added over the ranks.
     * Rank 0 gets the report, the others null.
     */
    public static Report evaluate(Backend be, Captioner net, CaptionData data, float[] pixelStats, int batch, Collective ranks) {
        int first = ranks.shareFrom(data.count()), end = ranks.shareTo(data.count());
        net.train(false);
        List<List<String>> cands = new ArrayList<>();
        List<List<List<String>>> refs = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        long exact = 0;
        try {
            for (int start = first; start < end; start += batch) {
                int b = Math.min(batch, end - start);
                int[] idx = new int[b];
                for (int i = 0; i < b; i++) idx[i] = start + i;
                int[][] out = net.caption(be, images(data, idx, pixelStats[0], pixelStats[1]), b, true);
                for (int i = 0; i < b; i++) {
                    String text = data.vocabulary().decode(out[i]);
                    texts.add(text);
                    List<String> words = Vocabulary.words(text);
                    cands.add(words);
                    List<List<String>> r = new ArrayList<>();
                    for (String c : data.captions(idx[i])) r.add(Vocabulary.words(c));
                    refs.add(r);
                    if (r.contains(words)) exact++;
                }
            }
        } finally {
            net.train(true);
        }
        long[] counts = Bleu.Counts.of(cands, refs, 4).toArray();
        float[] mine = new float[counts.length + 1];
        for (int i = 0; i < counts.length; i++) mine[i] = counts[i];
        mine[counts.length] = exact;
        float[] all = ranks.sum(be, mine);
        if (ranks.rank() != 0) return null;
        long[] summed = new long[counts.length];
        for (int i = 0; i < summed.length; i++) summed[i] = Math.round(all[i]);
        return new Report(Bleu.Counts.fromArray(summed).score(), Math.round(all[counts.length]) / (double) data.count(), texts);
    }
}
