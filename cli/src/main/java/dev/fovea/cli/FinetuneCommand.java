package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.Classifier;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.MaskedPretraining;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fovea finetune}: a trained model with a new classification head, trained on new data. */
@Command(name = "finetune", description = {"Fine-tune a checkpoint with a new classification head.",
        "The head is replaced by a fresh one with --num-classes outputs, then the model (or, with",
        "--freeze-backbone, only the head) trains on --data.",
        "Last line: finetuned model=M epochs=E test_accuracy=A images_per_s=X checkpoint=PATH"})
final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by fovea train (or finetune)") Path weights;
    @Option(names = "--num-classes", required = true, description = "classes of the new head") int classes;
    @Option(names = "--freeze-backbone", description = "train only the new head") boolean freeze;
    @Option(names = "--data", description = "directory of MNIST-format IDX files with the new labels (default: as train)") Path data;
    @Option(names = "--epochs", description = "epochs (default: 5)") Integer epochs;
    @Option(names = "--batch", description = "batch size (default: the checkpoint's)") Integer batch;
    @Option(names = "--lr", description = "peak learning rate (default: a fifth of the checkpoint's)") Float lr;
    @Option(names = "--limit", description = "train on the first N training images only (a small labelled budget)") int limit;
    @Option(names = "--seed", description = "seed for the new head and the data order (default: 2)") Long seed;
    @Option(names = "--out", description = "output directory (default: runs/MODEL-finetune)") Path out;
    @Option(names = "--overwrite", description = "replace a run already in the output folder (without it, a folder that holds a run is refused)") boolean overwrite;
    @Mixin EngineOptions engine;
    @Mixin RanksOptions parallel;

    @Override public Integer call() throws IOException {
        Checkpoint.Info info;
        try (SafetensorsFile f = SafetensorsFile.open(weights)) { info = Checkpoint.info(f); }
        TrainConfig base = info.config();
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description());
        int labels = Math.max(maxLabel(splits.train()), maxLabel(splits.test())) + 1;
        if (labels > classes)
            throw new IllegalArgumentException("the data has labels 0.." + (labels - 1) + " but --num-classes is " + classes + "; the new head needs at least " + labels + " outputs");
        ImageDataset train = TrainCommand.limited(splits.train(), limit);
        TrainConfig cfg = TrainConfig.finetuning(base, classes, freeze).epochs(epochs).batch(batch).lr(lr).seed(seed).build();
        try (Backend be = engine.open();
             Layer net = Models.create(be, cfg.model(), base.activation().isEmpty() ? null : base.activation(), base.seed(), base.classes())) {
            try (SafetensorsFile f = SafetensorsFile.open(weights)) { Checkpoint.loadParameters(f, net, MaskedPretraining.HEAD + "."); }
            ((Classifier) net).replaceHead(be, classes, cfg.seed());
            System.out.println("finetune: " + weights + " (" + base.model() + ", " + info.epochsDone() + " epochs) with a new head of " + classes
                    + " classes" + (freeze ? "; backbone frozen" : ""));
            try (Optimizer opt = cfg.newOptimizer(be, net)) {
                return Fit.run(be, net, opt, cfg, new ClassificationTask(be, net, cfg, train, splits.test()), cfg.model(), null,
                        Fit.dir(out, null, cfg.model() + "-finetune"), 0, overwrite, "finetuned", parallel);
            }
        }
    }

    private static int maxLabel(ImageDataset d) {
        int m = 0;
        for (int i = 0; i < d.count(); i++) m = Math.max(m, d.label(i));
        return m;
    }
}
