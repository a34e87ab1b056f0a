package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.Captioner;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.CaptionData;
import dev.fovea.tasks.CaptionTrainer;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code train --task caption}, {@code eval --task caption} and {@code caption}: image captioning on COCO captions. */
final class CaptionRun {
    private CaptionRun() {}

    static final String MODEL = "captioner";
    /** Encoder as the scene model's; a decoder of 2 blocks. */
    static final int DIM = 64, DEPTH = 4, HEADS = 4, DECODER_DEPTH = 2, EPOCHS = 20;

    static Map<String, String> metadata(Captioner.Config c, Vocabulary v, float[] stats) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", "caption");
        m.put("img_size", Integer.toString(c.imgSize()));
        m.put("in_chans", Integer.toString(c.inChans()));
        m.put("embed_dim", Integer.toString(c.dim()));
        m.put("depth", Integer.toString(c.depth()));
        m.put("num_heads", Integer.toString(c.heads()));
        m.put("decoder_depth", Integer.toString(c.decoderDepth()));
        m.put("max_len", Integer.toString(c.maxLen()));
        m.put("vocabulary", v.toJson());
        m.put("pixel_mean", Float.toString(stats[0]));
        m.put("pixel_std", Float.toString(stats[1]));
        return m;
    }

    record Loaded(Captioner net, Vocabulary vocab, float[] stats, Checkpoint.Info info) implements AutoCloseable {
        @Override public void close() { net.close(); }
    }

    static Loaded load(Backend be, Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            Map<String, String> m = f.metadata();
            if (!"caption".equals(m.get("task"))) throw new IllegalArgumentException(file + ": not a captioning checkpoint (its task is " + m.get("task") + ")");
            Vocabulary v = Vocabulary.fromJson(file.toString(), m.get("vocabulary"));
            Captioner.Config c;
            float[] stats;
            try {
                c = new Captioner.Config(Integer.parseInt(m.get("img_size")), Integer.parseInt(m.get("in_chans")), Integer.parseInt(m.get("embed_dim")),
                        Integer.parseInt(m.get("depth")), Integer.parseInt(m.get("num_heads")), Integer.parseInt(m.get("decoder_depth")), v.size(),
                        Integer.parseInt(m.get("max_len")));
                stats = new float[]{Float.parseFloat(m.get("pixel_mean")), Float.parseFloat(m.get("pixel_std"))};
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": bad captioning metadata: " + e);
            }
            Captioner net = new Captioner(be, c, info.config().seed());
            try {
                Checkpoint.load(f, net, null, be);
            } catch (RuntimeException e) {
                net.close();
                throw e;
            }
            return new Loaded(net, v, stats, info);
        }
    }

    static int train(TrainCommand o) throws IOException {
        if (o.data == null) throw new IllegalArgumentException("--task caption needs --data DIR: train/ and test/ with captions.json (as `fovea scenes` writes)");
        if (o.resume != null) throw new IllegalArgumentException("--resume is not supported for --task caption yet");
        CaptionData train = CaptionData.load(TaskRun.split(o.data, "train", "captions.json"), null, 0);
        CaptionData test = CaptionData.load(TaskRun.split(o.data, "test", "captions.json"), train.vocabulary(), train.length());
        if (test.unknownWords().count() > 0) System.out.println("note: test captions: " + test.unknownWords() + "; they are read as <unk>");
        System.out.println("data: " + train.count() + " training images, " + test.count() + " test images, vocabulary of " + train.vocabulary().size()
                + " (words seen twice or more), captions of up to " + (train.length() - 2) + " words");
        String opt = o.optimizer != null ? o.optimizer : "adamw";
        TrainConfig cfg = new TrainConfig(MODEL, "", o.epochs != null ? o.epochs : EPOCHS, o.batch, o.lr != null ? o.lr : 0.001f, opt, o.momentum,
                o.weightDecay != null ? o.weightDecay : opt.equals("sgd") ? 0f : 0.05f, o.nesterov, o.schedule, o.warmup != null ? o.warmup : 500, o.seed, 0f, false);
        var px = train.images();
        float[] stats = px.pixelStats();
        Captioner.Config mc = new Captioner.Config(px.height(), px.channels(), DIM, DEPTH, HEADS, DECODER_DEPTH, train.vocabulary().size(), train.length());
        Path dir = o.out != null ? o.out : Path.of("runs", "caption");
        Files.createDirectories(dir);
        Path ckpt = dir.resolve("checkpoint.safetensors");
        try (Backend be = o.engine.open(); Captioner net = new Captioner(be, mc, cfg.seed()); Optimizer optim = cfg.newOptimizer(be, net)) {
            System.out.println("model: captioner (scene encoder width " + DIM + " depth " + DEPTH + ", decoder depth " + DECODER_DEPTH + "), "
                    + String.format(Locale.ROOT, "%,d", net.parameterCount()) + " parameters; " + optim.describe());
            System.out.println("train: " + cfg + " on " + be.describe().lines().findFirst().orElse(be.name()));
            CaptionTrainer trainer = new CaptionTrainer(be, net, optim, cfg, train, stats, 0);
            Progress bar = new Progress(System.err);
            int last = o.stopAfter > 0 ? Math.min(cfg.epochs(), o.stopAfter) : cfg.epochs();
            List<EpochMetrics> history = new ArrayList<>();
            CaptionTrainer.Report r = null;
            double secs = 0;
            for (int e = 1; e <= last; e++) {
                EpochMetrics m = Fit.epoch(bar, e, cfg.epochs(), trainer::trainEpoch, e > 1 ? ckpt + " (epoch " + (e - 1) + ")" : null);
                if (m == null) return 3;
                r = CaptionTrainer.evaluate(be, net, test, stats, 250);
                m = new EpochMetrics(e, m.trainLoss(), m.trainAccuracy(), Double.NaN, r.exact(), m.imagesPerSecond(), m.seconds(), m.lr());
                history.add(m);
                secs += m.seconds();
                System.out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f token acc %.4f | test bleu4=%.4f exact=%.4f (\"%s\") | %.0f img/s, %.1f s%n", e, cfg.epochs(),
                        m.trainLoss(), m.trainAccuracy(), r.bleu4(), r.exact(), r.captions().getFirst(), m.imagesPerSecond(), m.seconds());
                Checkpoint.save(ckpt, net, optim, cfg, e, trainer.steps(), history, metadata(mc, train.vocabulary(), stats));
                Fit.writeMetrics(dir, history, "caption: loss and exact match (in the accuracy column)");
            }
            System.out.printf(Locale.ROOT, "trained task=caption epochs=%d bleu4=%.4f exact=%.4f images_per_s=%.0f checkpoint=%s%n", last, r.bleu4(), r.exact(),
                    (double) train.count() * last / secs, ckpt);
            return 0;
        }
    }

    static int eval(Path weights, Path data, int batch, EngineOptions engine) throws IOException {
        if (data == null) throw new IllegalArgumentException("--task caption needs --data DIR (its test/ split, or DIR itself, with captions.json)");
        try (Backend be = engine.open(); Loaded w = load(be, weights)) {
            CaptionData test = CaptionData.load(TaskRun.split(data, "test", "captions.json"), w.vocab(), w.net().config().maxLen());
            if (test.unknownWords().count() > 0) System.out.println("note: " + test.unknownWords() + "; they are read as <unk>");
            CaptionTrainer.Report r = CaptionTrainer.evaluate(be, w.net(), test, w.stats(), batch);
            for (int i = 0; i < Math.min(5, r.captions().size()); i++) System.out.println("  " + r.captions().get(i) + "   | reference: " + test.captions(i).getFirst());
            System.out.printf(Locale.ROOT, "eval task=caption bleu4=%.4f exact=%.4f%n", r.bleu4(), r.exact());
            return 0;
        }
    }
}
