package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fovea train}: trains an image classifier, checkpointing after every epoch. */
@Command(name = "train", description = {"Train LeNet-5 or a ViT on Fashion-MNIST (or any MNIST-format data set),",
        "or, with --task, a dense-prediction ViT for localization, detection or segmentation on a COCO-format folder.",
        "Writes OUT/checkpoint.safetensors after every epoch (atomically), OUT/metrics.csv and OUT/metrics.png.",
        "Last line: trained model=M epochs=E test_accuracy=A images_per_s=X checkpoint=PATH",
        "       or: trained task=T epochs=E METRIC=V images_per_s=X checkpoint=PATH"})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--task", description = "localize, detect, segment or instance: the scene model (a hybrid ViT with dense heads) on --data DIR, a COCO folder with train/ and test/ (as `fovea scenes` writes; default epochs: localize 24, detect 16, segment 20, instance 16); caption: a captioner (scene encoder + Transformer decoder) on DIR/{train,test}/captions.json (20 epochs); generate: a class-conditional image generator (decoder-only Transformer over image tokens) on Fashion-MNIST (10 epochs)")
    String task;
    @Option(names = "--model", description = "lenet5 (the 1998 paper's, C3 connection table, scaled tanh), lenet5-full (C3 fully connected, tanh) or vit (patch 4, width 64, depth 4, 4 heads) (default: ${DEFAULT-VALUE})")
    String model = "lenet5";
    @Option(names = "--activation", description = "override the model's activation: tanh, scaled_tanh, relu, sigmoid, gelu")
    String activation;
    @Option(names = "--epochs", description = "epochs in total (with --resume: up to this many; default there: the checkpoint's) (default: 10; vit 50, about 40 minutes on 2 cores)") Integer epochs;
    @Option(names = "--batch", description = "batch size (default: 64)") Integer batch;
    @Option(names = "--optimizer", description = "sgd or adamw (default: sgd for lenet5 models, adamw otherwise)") String optimizer;
    @Option(names = "--lr", description = "peak learning rate (default: 0.05 for sgd; for adamw 0.002 for lenet5 models, else 0.001)") Float lr;
    @Option(names = "--momentum", description = "SGD momentum (default: 0.9)") Float momentum;
    @Option(names = "--nesterov", description = "Nesterov momentum for SGD") Boolean nesterov;
    @Option(names = "--weight-decay", description = "SGD L2 / AdamW decoupled weight decay (default: 0 for sgd; for adamw 0.01 for lenet5 models, else 0.05)") Float weightDecay;
    @Option(names = "--schedule", description = "constant, step or cosine (default: cosine)") String schedule;
    @Option(names = "--warmup", description = "warm-up steps of the cosine schedule (default: 200 for lenet5 models, else 500)") Integer warmup;
    @Option(names = "--label-smoothing", description = "cross-entropy label smoothing (default: 0; vit and localize 0.1)") Float labelSmoothing;
    @Option(names = "--augment", negatable = true, description = "random shifts of up to 1 pixel, and Fashion-MNIST's garments and bags mirrored half the time (default: off; on for vit); with --task, scenes mirrored and moved as a whole (default: on for localize)") Boolean augment;
    @Option(names = "--seed", description = "seed for initialisation and data order (default: 1)") Long seed;
    @Option(names = "--data", description = "directory of MNIST-format IDX files (default: /usr/share/datasets/fashion-mnist if present, else the embedded sample); with --task a COCO folder")
    Path data;
    @Option(names = "--limit", description = "train on the first N training images only (default: all)") int limit;
    @Option(names = "--out", description = "output directory (default: runs/MODEL)") Path out;
    @Option(names = "--classifier", description = "with --task generate: the classifier that judges the samples (default: OUT/classifier/checkpoint.safetensors, a LeNet-5 trained first on the images as the generator sees them)")
    Path classifier;
    @Option(names = "--samples", description = "with --task generate: samples judged by the classifier after each epoch, spread evenly over the classes (default: ${DEFAULT-VALUE})")
    int samples = 1000;
    @Option(names = "--stop-after", description = "end this session after N epochs, as an interruption would (continue with --resume)")
    int stopAfter;
    @Option(names = "--overwrite", description = "replace a run already in the output folder (without it, a folder that holds a run is refused)") boolean overwrite;
    @Option(names = "--resume", description = "continue the run saved in this checkpoint (its settings win over the options above, except --epochs)")
    Path resume;
    @Mixin EngineOptions engine;
    @Mixin RanksOptions parallel;

    @Override public Integer call() throws IOException {
        if (stopAfter < 0) throw new IllegalArgumentException("--stop-after must be >= 1, got " + stopAfter);
        if (limit < 0) throw new IllegalArgumentException("--limit must be >= 1, got " + limit);
        TaskRun.checkName(task);
        String resumedTask = resume != null ? Checkpoint.task(resume) : null;
        if ("caption".equals(task) || task == null && "caption".equals(resumedTask)) return CaptionRun.train(this);
        if ("generate".equals(task) || task == null && "generate".equals(resumedTask)) return GenerateRun.train(this);
        if (task != null || resumedTask != null) return TaskRun.train(this);
        TrainConfig cfg;
        if (resume != null) {
            cfg = Fit.resumed(Fit.info(resume), epochs);
        } else {
            Models.validate(model, activation);
            cfg = settings(TrainConfig.builder(model).activation(activation)).build();
        }
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description());
        ImageDataset train = limited(splits.train());
        try (Backend be = engine.open();
             Layer net = Models.create(be, cfg.model(), cfg.activation().isEmpty() ? null : cfg.activation(), cfg.seed(), cfg.classes());
             Optimizer opt = cfg.newOptimizer(be, net)) {
            return Fit.run(be, net, opt, cfg, new ClassificationTask(be, net, cfg, train, splits.test()), cfg.model(), resume,
                    Fit.dir(out, resume, cfg.model()), stopAfter, overwrite, "trained", parallel);
        }
    }

    /** The options every task shares, over the builder's defaults. */
    TrainConfig.Builder settings(TrainConfig.Builder b) {
        return b.epochs(epochs).batch(batch).lr(lr).optimizer(optimizer).momentum(momentum).weightDecay(weightDecay).nesterov(nesterov)
                .schedule(schedule).warmup(warmup).seed(seed).labelSmoothing(labelSmoothing).augment(augment);
    }

    ImageDataset limited(ImageDataset train) { return limited(train, limit); }

    /** The first {@code limit} training images when a limit is given (and says so), else all of them. */
    static ImageDataset limited(ImageDataset train, int limit) {
        if (limit <= 0 || limit >= train.count()) return train;
        System.out.println("data: training on the first " + limit + " images (--limit)");
        return head(train, limit);
    }

    static ImageDataset head(ImageDataset d, int n) {
        return new ImageDataset(d.source() + " (first " + n + ")", n, d.height(), d.width(),
                java.util.Arrays.copyOf(d.pixels(), n * d.imageSize()), java.util.Arrays.copyOf(d.labels(), n), d.classes(), d.names());
    }

}
