package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.ImageTokens;
import dev.fovea.data.SceneCaptions;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.ImageGenerator;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.GenerationTrainer;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.Evaluation;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code train --task generate}, {@code eval --task generate} and {@code generate}: a class-conditional
 * Transformer that draws Fashion-MNIST images token by token ({@link ImageTokens}), and its judge, a LeNet-5
 * trained separately on the training images as the generator sees them (quantised).
 */
final class GenerateRun {
    private GenerateRun() {}

    static final String MODEL = "generator";
    static final int DIM = 128, DEPTH = 4, HEADS = 8, EPOCHS = 10;
    static final Path DEFAULT_WEIGHTS = Path.of("runs", "generate", "checkpoint.safetensors");

    static Map<String, String> metadata(ImageGenerator.Config c, Path classifier) {
        ImageTokens tk = c.tokens();
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", "generate");
        m.put("image_side", Integer.toString(tk.side()));
        m.put("downsample", Integer.toString(tk.down()));
        m.put("levels", Integer.toString(tk.levels()));
        m.put("token_patch", Integer.toString(tk.patch()));
        m.put("num_classes", Integer.toString(c.classes()));
        m.put("embed_dim", Integer.toString(c.dim()));
        m.put("depth", Integer.toString(c.depth()));
        m.put("num_heads", Integer.toString(c.heads()));
        m.put("classifier", classifier.toString());
        return m;
    }

    record Loaded(ImageGenerator net, Path classifier, Checkpoint.Info info) implements AutoCloseable {
        @Override public void close() { net.close(); }
    }

    static Loaded load(Backend be, Path file) throws IOException {
        if (!Files.exists(file)) throw new IllegalArgumentException(file + ": no such checkpoint (train a generator with `fovea train --task generate`)");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Checkpoint.Info info = Checkpoint.info(f);
            Map<String, String> m = f.metadata();
            if (!"generate".equals(m.get("task"))) throw new IllegalArgumentException(file + ": not a generator's checkpoint (its task is " + m.get("task") + ")");
            ImageGenerator.Config c;
            try {
                ImageTokens tk = new ImageTokens(Integer.parseInt(m.get("image_side")), Integer.parseInt(m.get("downsample")), Integer.parseInt(m.get("levels")),
                        Integer.parseInt(m.get("token_patch")));
                c = new ImageGenerator.Config(tk, Integer.parseInt(m.get("num_classes")), Integer.parseInt(m.get("embed_dim")), Integer.parseInt(m.get("depth")),
                        Integer.parseInt(m.get("num_heads")));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + ": bad generator metadata: " + e);
            }
            ImageGenerator net = new ImageGenerator(be, c, info.config().seed());
            try {
                Checkpoint.load(f, net, null, be);
            } catch (RuntimeException e) {
                net.close();
                throw e;
            }
            return new Loaded(net, m.get("classifier") == null ? null : Path.of(m.get("classifier")), info);
        }
    }

    /**
     * A class by its Fashion-MNIST name ("ankle boot", "T-shirt/top"; case and spaces as you like; also the scene
     * captions' "t-shirt") or index.
     */
    static int classIndex(String name, int classes) {
        String want = norm(name);
        for (int c = 0; c < Math.min(classes, ImageDataset.FASHION_CLASSES.length); c++)
            if (norm(ImageDataset.FASHION_CLASSES[c]).equals(want) || norm(SceneCaptions.NAMES[c]).equals(want)) return c;
        try {
            int c = Integer.parseInt(name.strip());
            if (c >= 0 && c < classes) return c;
        } catch (NumberFormatException ignored) {
            // not a number either: the error below lists the names
        }
        throw new IllegalArgumentException("unknown class \"" + name + "\"; the classes are: " + String.join(", ", List.of(ImageDataset.FASHION_CLASSES))
                + " (or their index 0.." + (classes - 1) + ", or all)");
    }

    private static String norm(String s) { return s.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9/]", ""); }

    static int train(TrainCommand o) throws IOException {
        if (o.resume != null) throw new IllegalArgumentException("--resume is not supported for --task generate yet");
        ImageDataset.Splits splits = ImageDataset.resolve(o.data);
        System.out.println("data: " + splits.description());
        ImageDataset train = o.limit > 0 && o.limit < splits.train().count() ? TrainCommand.head(splits.train(), o.limit) : splits.train();
        if (o.samples < train.classes()) throw new IllegalArgumentException("--samples must be at least the " + train.classes() + " classes (one each), got " + o.samples);
        ImageTokens tk = ImageTokens.FASHION;
        System.out.println("tokens: " + tk.side() + "×" + tk.side() + " images averaged to " + tk.small() + "×" + tk.small() + ", " + tk.levels()
                + " grey levels, " + tk.patch() + "×" + tk.patch() + " pixels a token: " + tk.length() + " tokens of " + tk.vocab() + " values an image");
        String opt = o.optimizer != null ? o.optimizer : "adamw";
        TrainConfig cfg = new TrainConfig(MODEL, "", o.epochs != null ? o.epochs : EPOCHS, o.batch, o.lr != null ? o.lr : 0.001f, opt, o.momentum,
                o.weightDecay != null ? o.weightDecay : opt.equals("sgd") ? 0f : 0.05f, o.nesterov, o.schedule, o.warmup != null ? o.warmup : 500, o.seed, 0f, false);
        Path dir = o.out != null ? o.out : DEFAULT_WEIGHTS.getParent();
        Files.createDirectories(dir);
        Path ckpt = dir.resolve("checkpoint.safetensors");
        try (Backend be = o.engine.open()) {
            Path judge = classifier(be, o, splits, tk, dir);
            ImageGenerator.Config mc = new ImageGenerator.Config(tk, train.classes(), DIM, DEPTH, HEADS);
            try (ImageGenerator net = new ImageGenerator(be, mc, cfg.seed()); Optimizer optim = cfg.newOptimizer(be, net);
                 Weights.Loaded classifier = Weights.load(be, judge)) {
                System.out.println("model: generator (decoder-only Transformer, width " + DIM + ", depth " + DEPTH + ", " + HEADS + " heads), "
                        + String.format(Locale.ROOT, "%,d", net.parameterCount()) + " parameters; " + optim.describe());
                System.out.println("train: " + cfg + " on " + be.describe().lines().findFirst().orElse(be.name()));
                GenerationTrainer trainer = new GenerationTrainer(be, net, optim, cfg, train, 0);
                Progress bar = new Progress(System.err);
                int last = o.stopAfter > 0 ? Math.min(cfg.epochs(), o.stopAfter) : cfg.epochs();
                List<EpochMetrics> history = new ArrayList<>();
                Judged j = null;
                double secs = 0;
                for (int e = 1; e <= last; e++) {
                    EpochMetrics m = Fit.epoch(bar, e, cfg.epochs(), trainer::trainEpoch, e > 1 ? ckpt + " (epoch " + (e - 1) + ")" : null);
                    if (m == null) return 3;
                    j = judge(be, net, classifier, splits.test(), o.samples / train.classes(), 1f, cfg.seed());
                    m = new EpochMetrics(e, m.trainLoss(), Double.NaN, j.bitsPerDim(), j.accuracy().accuracy(), m.imagesPerSecond(), m.seconds(), m.lr());
                    history.add(m);
                    secs += m.seconds();
                    System.out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f nats/token | test bits/dim %.4f | class accuracy of %d samples %.4f | %.0f img/s, %.1f s%n",
                            e, cfg.epochs(), m.trainLoss(), j.bitsPerDim(), j.samples(), j.accuracy().accuracy(), m.imagesPerSecond(), m.seconds());
                    Checkpoint.save(ckpt, net, optim, cfg, e, trainer.steps(), history, metadata(mc, judge));
                    Fit.writeMetrics(dir, history, "generate: loss, test bits/dim (test loss) and class accuracy");
                }
                System.out.printf(Locale.ROOT, "trained task=generate epochs=%d bits_per_dim=%.4f class_accuracy=%.4f images_per_s=%.0f checkpoint=%s%n",
                        last, j.bitsPerDim(), j.accuracy().accuracy(), (double) train.count() * last / secs, ckpt);
                return 0;
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
        Files.createDirectories(cdir);
        ImageDataset.Splits q = new ImageDataset.Splits(tk.quantised(splits.train()), tk.quantised(splits.test()), splits.description() + ", as image tokens");
        TrainConfig cfg = new TrainConfig("lenet5", "", 10, 64, 0.05f, "sgd", 0.9f, 0f, false, "cosine", 200, o.seed);
        try (var net = dev.fovea.models.Models.create(be, cfg.model(), null, cfg.seed(), cfg.classes()); Optimizer opt = cfg.newOptimizer(be, net)) {
            int rc = Fit.run(be, net, opt, cfg, q, q.train(), cdir, 1, 0, new ArrayList<>(), null, 0, "trained");
            if (rc != 0) throw new IllegalStateException("the classifier's training failed (exit " + rc + ")");
        }
        return c;
    }

    /** Bits per dimension on the test images and how the classifier sees samples of every class. */
    record Judged(double bitsPerDim, Evaluation accuracy, int samples) {}

    static Judged judge(Backend be, ImageGenerator net, Weights.Loaded classifier, ImageDataset test, int perClass, float temperature, long seed) {
        double bpd = GenerationTrainer.likelihood(be, net, test, 500).bitsPerDim();
        ImageDataset samples = GenerationTrainer.samples(be, net, perClass, temperature, seed, 250);
        return new Judged(bpd, Trainer.evaluate(be, classifier.model(), samples, 500), samples.count());
    }

    static int eval(Path weights, Path data, Path classifierOpt, int count, float temperature, long seed, EngineOptions engine) throws IOException {
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description());
        try (Backend be = engine.open(); Loaded w = load(be, weights)) {
            Path judge = classifierOpt != null ? classifierOpt : w.classifier();
            if (judge == null) throw new IllegalArgumentException(weights + " names no classifier; pass --classifier CKPT");
            int classes = w.net().config().classes();
            if (count < classes) throw new IllegalArgumentException("--count must be at least the " + classes + " classes, got " + count);
            try (Weights.Loaded classifier = Weights.load(be, judge)) {
                double real = Trainer.evaluate(be, classifier.model(), w.net().config().tokens().quantised(splits.test()), 500).accuracy();
                System.out.printf(Locale.ROOT, "classifier: %s; on the test images as image tokens draw them: accuracy %.4f%n", judge, real);
                Judged j = judge(be, w.net(), classifier, splits.test(), count / classes, temperature, seed);
                System.out.print(j.accuracy().confusionTable(ImageDataset.FASHION_CLASSES));
                System.out.printf(Locale.ROOT, "samples: %d (%d a class), temperature %s, seed %d%n", j.samples(), count / classes, temperature, seed);
                System.out.printf(Locale.ROOT, "eval task=generate bits_per_dim=%.4f class_accuracy=%.4f%n", j.bitsPerDim(), j.accuracy().accuracy());
                return 0;
            }
        }
    }
}
