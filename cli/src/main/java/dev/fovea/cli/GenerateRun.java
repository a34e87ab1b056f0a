package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.ImageTokens;
import dev.fovea.models.ImageGenerator;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.GenerationTask;
import dev.fovea.train.TrainConfig;

import dev.fovea.train.ClassificationTask;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code train --task generate}, {@code eval --task generate} and {@code generate}: a class-conditional
 * Transformer that draws Fashion-MNIST images token by token ({@link ImageTokens}), and its judge, a LeNet-5
 * trained separately on the training images as the generator sees them (quantised).
 */
final class GenerateRun {
    private GenerateRun() {}

    static final Path DEFAULT_WEIGHTS = Path.of("runs", "generate", "checkpoint.safetensors");

    static int train(TrainCommand o) throws IOException {
        ImageDataset.Splits splits = ImageDataset.resolve(o.data);
        System.out.println("data: " + splits.description());
        ImageDataset train = o.limited(splits.train());
        if (o.samples < train.classes()) throw new IllegalArgumentException("--samples must be at least the " + train.classes() + " classes (one each), got " + o.samples);
        TrainConfig cfg = o.resume != null ? Fit.resumed(Fit.info(o.resume), o.epochs) : o.settings(TrainConfig.builder(GenerationTask.MODEL)).build();
        Path dir = Fit.dir(o.out, o.resume, "generate");
        try (Backend be = o.engine.open(); GenerationTask.Loaded resumed = o.resume != null ? GenerationTask.load(be, o.resume) : null) {
            ImageGenerator.Config mc = resumed != null ? resumed.net().config() : ImageGenerator.Config.standard(ImageTokens.FASHION, train.classes());
            ImageTokens tk = mc.tokens();
            System.out.println("tokens: " + tk.side() + "×" + tk.side() + " images averaged to " + tk.small() + "×" + tk.small() + ", " + tk.levels()
                    + " grey levels, " + tk.patch() + "×" + tk.patch() + " pixels a token: " + tk.length() + " tokens of " + tk.vocab() + " values an image");
            Path judge = o.classifier != null || resumed == null || resumed.classifier() == null ? classifier(be, o, splits, tk, dir) : resumed.classifier();
            try (ImageGenerator net = new ImageGenerator(be, mc, cfg.seed()); Optimizer optim = cfg.newOptimizer(be, net);
                 ClassificationTask.Loaded classifier = ClassificationTask.load(be, judge)) {
                String model = String.format(Locale.ROOT, "generator (decoder-only Transformer, width %d, depth %d, %d heads)", mc.dim(), mc.depth(), mc.heads());
                GenerationTask task = new GenerationTask(be, net, cfg, train, splits.test(), classifier.model(), judge, o.samples / train.classes());
                return Fit.run(be, net, optim, cfg, task, model, o.resume, dir, o.stopAfter, o.overwrite, "trained", o.parallel);
            }
        }
    }

    /**
     * The judge: --classifier if given; else OUT/classifier/checkpoint.safetensors, trained here first (LeNet-5, the
     * main job's settings) on the training images encoded and decoded as image tokens, unless it is already there.
     */
    private static Path classifier(Backend be, TrainCommand o, ImageDataset.Splits splits, ImageTokens tk, Path dir) throws IOException {
        if (o.classifier != null) {
            System.out.println("classifier: " + o.classifier + " (--classifier)");
            return o.classifier;
        }
        Path cdir = dir.resolve("classifier"), c = cdir.resolve("checkpoint.safetensors");
        if (Files.exists(c)) {
            System.out.println("classifier: " + c + " (already trained; delete it to train it again)");
            return c;
        }
        System.out.println("classifier: training LeNet-5 on the training images as image tokens draw them, to judge the samples");
        TrainConfig cfg = TrainConfig.builder("lenet5").seed(o.seed).build();
        try (var net = dev.fovea.models.Models.create(be, cfg.model(), null, cfg.seed(), cfg.classes()); Optimizer opt = cfg.newOptimizer(be, net)) {
            var task = new ClassificationTask(be, net, cfg, tk.quantised(splits.train()), tk.quantised(splits.test()));
            int rc = Fit.run(be, net, opt, cfg, task, cfg.model(), null, cdir, 0, false, "trained", o.parallel);
            if (rc != 0) throw new IllegalStateException("the classifier's training failed (exit " + rc + ")");
        }
        return c;
    }

    static int eval(Path weights, Path data, Path classifierOpt, int count, float temperature, long seed, EngineOptions engine) throws IOException {
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description());
        try (Backend be = engine.open(); GenerationTask.Loaded w = GenerationTask.load(be, weights)) {
            Path judge = classifierOpt != null ? classifierOpt : w.classifier();
            if (judge == null) throw new IllegalArgumentException(weights + " names no classifier; pass --classifier CKPT");
            int classes = w.net().config().classes();
            if (count < classes) throw new IllegalArgumentException("--count must be at least the " + classes + " classes, got " + count);
            try (ClassificationTask.Loaded classifier = ClassificationTask.load(be, judge)) {
                double real = ClassificationTask.evaluate(be, classifier.model(), w.net().config().tokens().quantised(splits.test()), 500).accuracy();
                System.out.printf(Locale.ROOT, "classifier: %s; on the test images as image tokens draw them: accuracy %.4f%n", judge, real);
                GenerationTask.Judged j = GenerationTask.judge(be, w.net(), classifier.model(), splits.test(), count / classes, temperature, seed);
                System.out.print(j.accuracy().confusionTable(w.labels().toArray(String[]::new)));
                System.out.printf(Locale.ROOT, "samples: %d (%d a class), temperature %s, seed %d%n", j.samples(), count / classes, temperature, seed);
                System.out.printf(Locale.ROOT, "eval task=generate bits_per_dim=%.4f class_accuracy=%.4f%n", j.bitsPerDim(), j.accuracy().accuracy());
                return 0;
            }
        }
    }
}
