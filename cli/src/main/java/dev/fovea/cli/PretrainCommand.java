package dev.fovea.cli;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.data.Batches;
import dev.fovea.data.ImageDataset;
import dev.fovea.models.Models;
import dev.fovea.models.VisionTransformer;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.NonFiniteLossException;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/** {@code fovea pretrain}: masked-patch pretraining of the ViT on unlabelled images. */
@Command(name = "pretrain", description = {"Masked-patch pretraining of the ViT on unlabelled images.",
        "As BERT does with words: a random fraction of each image's patches is replaced by a learned mask token",
        "and the ViT learns to predict those patches' pixels (normalised per patch).",
        "Labels are not read. Start fine-tuning from the checkpoint with fovea finetune.",
        "Last line: pretrained model=vit mask_ratio=R epochs=E loss=L checkpoint=PATH"})
final class PretrainCommand implements Callable<Integer> {
    @Option(names = "--model", description = "vit (default: ${DEFAULT-VALUE})") String model = "vit";
    @Option(names = "--mask-ratio", description = "fraction of patches hidden (default: ${DEFAULT-VALUE})") float maskRatio = 0.5f;
    @Option(names = "--epochs", description = "epochs (default: ${DEFAULT-VALUE})") int epochs = 5;
    @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})") int batch = 64;
    @Option(names = "--lr", description = "peak AdamW learning rate (default: ${DEFAULT-VALUE})") float lr = 0.001f;
    @Option(names = "--seed", description = "seed (default: ${DEFAULT-VALUE})") long seed = 1;
    @Option(names = "--data", description = "directory of MNIST-format IDX files (its training images; default: as train)") Path data;
    @Option(names = "--limit", description = "use the first N training images only") int limit;
    @Option(names = "--out", description = "output directory (default: runs/vit-pretrain)") Path out;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        if (!model.equals("vit")) throw new IllegalArgumentException("pretrain: --model must be vit, got '" + model + "'");
        if (!(maskRatio > 0 && maskRatio < 1)) throw new IllegalArgumentException("--mask-ratio must be in (0, 1), got " + maskRatio);
        TrainConfig cfg = new TrainConfig(Models.VIT_PRETRAIN, "", epochs, batch, lr, "adamw", 0.9f, 0.05f, false, "cosine", 200, seed, 0.1f, true);
        ImageDataset.Splits splits = ImageDataset.resolve(data);
        System.out.println("data: " + splits.description() + "; training images only, labels unused");
        ImageDataset train = limit > 0 && limit < splits.train().count() ? TrainCommand.head(splits.train(), limit) : splits.train();
        Path dir = out != null ? out : Path.of("runs", Models.VIT_PRETRAIN);
        Files.createDirectories(dir);
        Path ckpt = dir.resolve("checkpoint.safetensors");
        try (Backend be = engine.open();
             VisionTransformer vit = (VisionTransformer) Models.create(be, Models.VIT_PRETRAIN, null, seed);
             Optimizer opt = cfg.newOptimizer(be, vit.namedParameters())) {
            System.out.println("pretrain: vit, mask ratio " + maskRatio + ", " + String.format(Locale.ROOT, "%,d", vit.parameterCount()) + " parameters; " + opt.describe());
            long perEpoch = (train.count() + batch - 1) / batch, step = 0;
            LrSchedule schedule = cfg.newSchedule(perEpoch);
            SplittableRandom masks = new SplittableRandom(seed ^ 0x6D61736BL);
            Progress bar = new Progress(System.err);
            List<EpochMetrics> history = new ArrayList<>();
            double loss = Double.NaN;
            for (int e = 1; e <= epochs; e++) {
                long t0 = System.nanoTime(), seen = 0;
                double sum = 0;
                String label = "pretrain " + e + "/" + epochs;
                try (Batches batches = new Batches(train, batch, Trainer.epochSeed(seed, e), true)) {
                    int i = 0, count = batches.count();
                    while (batches.hasNext()) {
                        Batches.Batch b = batches.next();
                        try (Tape t = Tape.training(be)) {
                            Var l = vit.maskedPatchLoss(t, b.images(), b.size(), maskRatio, masks);
                            float lv = l.value().toArray()[0];
                            if (!Float.isFinite(lv)) {
                                bar.finish();
                                System.err.println("fovea: error: " + new NonFiniteLossException(e, step + 1, lv).getMessage()
                                        + (e > 1 ? "; the last good checkpoint is " + ckpt + " (epoch " + (e - 1) + ")" : "; no checkpoint of this run was written"));
                                return 3;
                            }
                            vit.zeroGrad();
                            l.backward();
                            opt.step(schedule.lr(step++));
                            sum += (double) lv * b.size();
                        }
                        seen += b.size();
                        bar.update(label, ++i, count, seen, (System.nanoTime() - t0) / 1e9, sum / seen);
                    }
                }
                bar.finish();
                double secs = (System.nanoTime() - t0) / 1e9;
                loss = sum / seen;
                history.add(new EpochMetrics(e, loss, Double.NaN, Double.NaN, Double.NaN, seen / secs, secs, schedule.lr(step - 1)));
                System.out.printf(Locale.ROOT, "epoch %d/%d: masked-patch loss %.4f | %.0f img/s, %.1f s%n", e, epochs, loss, seen / secs, secs);
                Checkpoint.save(ckpt, vit, opt, cfg, e, step, history);
            }
            System.out.printf(Locale.ROOT, "pretrained model=vit mask_ratio=%s epochs=%d loss=%.4f checkpoint=%s%n", maskRatio, epochs, loss, ckpt);
            return 0;
        }
    }
}
