package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.metrics.Bleu;
import dev.fovea.models.Captioner;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Captioning: teacher forcing on one of each image's captions, drawn anew every epoch from (seed, epoch), and
 * evaluation by greedy decoding against all of an image's captions: corpus BLEU-4 and exact match (the caption
 * equals one of them, word for word).
 */
public final class CaptionTrainer {
    private final Backend be;
    private final Captioner net;
    private final Optimizer opt;
    private final TrainConfig cfg;
    private final CaptionData train;
    private final float mean, std;
    private final LrSchedule schedule;
    private long step;

    public CaptionTrainer(Backend be, Captioner net, Optimizer opt, TrainConfig cfg, CaptionData train, float[] pixelStats, long stepsDone) {
        this.be = be;
        this.net = net;
        this.opt = opt;
        this.cfg = cfg;
        this.train = train;
        this.mean = pixelStats[0];
        this.std = pixelStats[1];
        this.schedule = cfg.newSchedule((train.count() + cfg.batch() - 1) / cfg.batch());
        this.step = stepsDone;
    }

    public long steps() { return step; }

    /** One epoch; its running loss and next-token accuracy (test fields NaN). */
    public EpochMetrics trainEpoch(int epoch, Trainer.Listener l) {
        net.train(true);
        long t0 = System.nanoTime();
        long seed = Trainer.epochSeed(cfg.seed(), epoch);
        int[] order = Batches.permutation(train.count(), seed);
        SplittableRandom pick = new SplittableRandom(~seed);
        int batches = (order.length + cfg.batch() - 1) / cfg.batch();
        double lossSum = 0;
        long right = 0, counted = 0, seen = 0;
        float lr = 0;
        for (int bi = 0; bi < batches; bi++) {
            int[] idx = java.util.Arrays.copyOfRange(order, bi * cfg.batch(), Math.min(order.length, (bi + 1) * cfg.batch()));
            int b = idx.length;
            float[] x = images(train, idx, mean, std);
            int[][] tokens = new int[b][];
            for (int i = 0; i < b; i++) {
                int[][] all = train.tokens(idx[i]);
                tokens[i] = all[pick.nextInt(all.length)];
            }
            lr = schedule.lr(step);
            try (Tape t = Tape.training(be)) {
                Var[] out = net.loss(t, t.constant(be.upload(x, b, net.config().inChans(), net.config().imgSize(), net.config().imgSize())), tokens);
                float lv = Trainer.descend(out[0], net, opt, lr, epoch, ++step);
                lossSum += (double) lv * b;
                float[] lg = out[1].value().toArray();
                int v = net.config().vocab(), p = 0;
                for (int i = 0; i < b; i++)
                    for (int j = 1; j < tokens[i].length && tokens[i][j] != Vocabulary.PAD; j++, p++) {
                        counted++;
                        if (Trainer.argmax(lg, p * v, v) == tokens[i][j]) right++;
                    }
            }
            seen += b;
            l.onStep(epoch, bi + 1, batches, seen, (System.nanoTime() - t0) / 1e9, lossSum / seen);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new EpochMetrics(epoch, lossSum / seen, (double) right / counted, Double.NaN, Double.NaN, seen / secs, secs, lr);
    }

    static float[] images(CaptionData d, int[] idx, float mean, float std) {
        int n = d.images().channels() * d.images().height() * d.images().width();
        float[] x = new float[idx.length * n];
        for (int i = 0; i < idx.length; i++) d.images().unit(idx[i], x, i * n);
        for (int k = 0; k < x.length; k++) x[k] = (x[k] - mean) / std;
        return x;
    }

    /** BLEU-4 and exact match of greedy captions, and the captions themselves. */
    public record Report(double bleu4, double exact, List<String> captions) {}

    public static Report evaluate(Backend be, Captioner net, CaptionData data, float[] pixelStats, int batch) {
        net.train(false);
        List<List<String>> cands = new ArrayList<>();
        List<List<List<String>>> refs = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        long exact = 0;
        try {
            for (int start = 0; start < data.count(); start += batch) {
                int b = Math.min(batch, data.count() - start);
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
        return new Report(Bleu.corpus(cands, refs, 4), (double) exact / data.count(), texts);
    }
}
