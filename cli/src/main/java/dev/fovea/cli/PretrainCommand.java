package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.models.VisionTransformer;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.MaskedPretraining;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fovea pretrain}: masked-patch pretraining of the ViT on unlabelled images. */
@Command(name = "pretrain", description = {"Masked-patch pretraining of the ViT on unlabelled images.",
        "As BERT does with words: a random fraction of each image's patches is replaced by a learned mask token",
        "and the ViT learns to predict those patches' pixels (normalised per patch).",
        "Labels are not read. Start fine-tuning from the checkpoint with fovea finetune.",
        "Last line: pretrained model=vit mask_ratio=R epochs=E loss=L images_per_s=X checkpoint=PATH"})
final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--model", description = "vit (default: ${DEFAULT-VALUE})") String model = "vit";
    @Option(names = "--mask-ratio", description = "fraction of patches hidden (default: ${DEFAULT-VALUE})") float maskRatio = 0.5f;
    @Option(names = "--epochs", description = "epochs (default: 5; with --resume: the checkpoint's)") Integer epochs;
    @Option(names = "--batch", description = "batch size (default: 64)") Integer batch;
    @Option(names = "--lr", description = "peak AdamW learning rate (default: 0.001)") Float lr;
    @Option(names = "--seed", description = "seed (default: 1)") Long seed;
    @Option(names = "--data", description = "directory of MNIST-format IDX files (its training images; default: as train)") Path data;
    @Option(names = "--limit", description = "use the first N training images only") int limit;
    @Option(names = "--out", description = "output directory (default: runs/vit-pretrain; with --resume the checkpoint's folder)") Path out;
    @Option(names = "--stop-after", description = "end this session after N epochs, as an interruption would (continue with --resume)") int stopAfter;
    @Option(names = "--overwrite", description = "replace a run already in the output folder (without it, a folder that holds a run is refused)") boolean overwrite;
    @Option(names = "--resume", description = "continue the pretraining saved in this checkpoint (its settings win, except --epochs)") Path resume;
    @Mixin EngineOptions engine;
    @Mixin RanksOptions parallel;

    @Override public Integer call() throws IOException {
        if (!model.equals("vit")) throw new IllegalArgumentException("pretrain: --model must be vit, got '" + model + "'");
        if (stopAfter < 0) throw new IllegalArgumentException("--stop-after must be >= 1, got " + stopAfter);
        TrainConfig cfg;
        float ratio = maskRatio;
        if (resume != null) {
            Checkpoint.Info info = Fit.info(resume);
            if (!Models.VIT_PRETRAIN.equals(info.config().model()))
                throw new IllegalArgumentException(resume + ": not a pretraining checkpoint (its model is " + info.config().model() + ")");
            try (var f = dev.fovea.io.SafetensorsFile.open(resume)) { ratio = MaskedPretraining.maskRatio(resume.toString(), f.metadata()); }
            cfg = Fit.resumed(info, epochs);
        } else {
            cfg = TrainConfig.builder(Models.VIT_PRETRAIN).epochs(epochs).batch(batch).lr(lr).seed(seed).build();
        }
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description() + "; training images only, labels unused");
        ImageDataset train = TrainCommand.limited(splits.train(), limit);
        try (Backend be = engine.open(); VisionTransformer vit = (VisionTransformer) Models.create(be, "vit", null, cfg.seed())) {
            MaskedPretraining task = new MaskedPretraining(be, vit, cfg, train, ratio);     // attaches its head: before the optimizer
            try (Optimizer opt = cfg.newOptimizer(be, vit)) {
                return Fit.run(be, vit, opt, cfg, task, "vit, mask ratio " + ratio, resume, Fit.dir(out, resume, Models.VIT_PRETRAIN), stopAfter, overwrite, "pretrained", parallel);
            }
        }
    }
}
