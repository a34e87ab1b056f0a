package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.models.Captioner;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.CaptionData;
import dev.fovea.tasks.CaptionTask;
import dev.fovea.train.TrainConfig;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** {@code train --task caption}, {@code eval --task caption} and {@code caption}: image captioning on COCO captions. */
final class CaptionRun {
    private CaptionRun() {}

    static int train(TrainCommand o) throws IOException {
        if (o.data == null) throw new IllegalArgumentException("--task caption needs --data DIR: train/ and test/ with captions.json (as `fovea scenes` writes)");
        TrainConfig cfg = o.resume != null ? Fit.resumed(Fit.info(o.resume), o.epochs) : o.settings(TrainConfig.builder(CaptionTask.MODEL)).build();
        try (Backend be = o.engine.open();
             CaptionTask.Loaded resumed = o.resume != null ? CaptionTask.load(be, o.resume) : null) {
            CaptionData train = CaptionData.load(TaskRun.split(o.data, "train", "captions.json"), resumed != null ? resumed.vocab() : null,
                    resumed != null ? resumed.net().config().maxLen() : 0);
            if (train.unknownWords().count() > 0) System.out.println("note: training captions: " + train.unknownWords() + "; they are read as <unk>");
            CaptionData test = CaptionData.load(TaskRun.split(o.data, "test", "captions.json"), train.vocabulary(), train.length());
            if (test.unknownWords().count() > 0) System.out.println("note: test captions: " + test.unknownWords() + "; they are read as <unk>");
            System.out.println("data: " + train.count() + " training images, " + test.count() + " test images, vocabulary of " + train.vocabulary().size()
                    + " (words seen twice or more), captions of up to " + (train.length() - 2) + " words");
            var px = train.images();
            float[] stats = resumed != null ? resumed.stats() : px.pixelStats();
            Captioner.Config mc = resumed != null ? resumed.net().config()
                    : Captioner.Config.standard(px.height(), px.channels(), train.vocabulary().size(), train.length());
            if (mc.imgSize() != px.height() || mc.inChans() != px.channels())
                throw new IllegalArgumentException(o.data + ": images are " + px.channels() + "x" + px.height() + "x" + px.width() + ", the checkpoint's model takes "
                        + mc.inChans() + "x" + mc.imgSize() + "x" + mc.imgSize());
            try (Captioner net = new Captioner(be, mc, cfg.seed()); Optimizer optim = cfg.newOptimizer(be, net)) {
                String model = String.format(Locale.ROOT, "captioner (scene encoder width %d depth %d, decoder depth %d)", mc.dim(), mc.depth(), mc.decoderDepth());
                return Fit.run(be, net, optim, cfg, new CaptionTask(be, net, train, test, stats), model, o.resume, Fit.dir(o.out, o.resume, "caption"),
                        o.stopAfter, o.overwrite, "trained", o.parallel);
            }
        }
    }

    static int eval(Path weights, Path data, int batch, EngineOptions engine) throws IOException {
        if (data == null) throw new IllegalArgumentException("--task caption needs --data DIR (its test/ split, or DIR itself, with captions.json)");
        try (Backend be = engine.open(); CaptionTask.Loaded w = CaptionTask.load(be, weights)) {
            CaptionData test = CaptionData.load(TaskRun.split(data, "test", "captions.json"), w.vocab(), w.net().config().maxLen());
            if (test.unknownWords().count() > 0) System.out.println("note: " + test.unknownWords() + "; they are read as <unk>");
            CaptionTask.Report r = CaptionTask.evaluate(be, w.net(), test, w.stats(), batch);
            for (int i = 0; i < Math.min(5, r.captions().size()); i++) System.out.println("  " + r.captions().get(i) + "   | reference: " + test.captions(i).getFirst());
            System.out.printf(Locale.ROOT, "eval task=caption bleu4=%.4f exact=%.4f%n", r.bleu4(), r.exact());
            return 0;
        }
    }
}
