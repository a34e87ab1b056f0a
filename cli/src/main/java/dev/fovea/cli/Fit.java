package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.nn.Module;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.Evaluation;
import dev.fovea.train.NonFiniteLossException;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

/** The epoch loop that train and finetune share: progress, test pass, metrics, checkpoint after every epoch. */
final class Fit {
    private Fit() {}

    /**
     * Trains epochs {@code first}.. of cfg (or {@code stopAfter} of them), writing DIR/checkpoint.safetensors,
     * metrics.csv and metrics.png after each; returns the exit code (3 on a non-finite loss). The last line is
     * "{verb} model=M epochs=E test_accuracy=A images_per_s=X checkpoint=PATH".
     */
    static int run(Backend be, Module net, Optimizer opt, TrainConfig cfg, ImageDataset.Splits splits, ImageDataset train, Path dir,
                   int first, long steps, List<EpochMetrics> history, String lastGood, int stopAfter, String verb) throws IOException {
        Path ckpt = dir.resolve("checkpoint.safetensors");
        System.out.println("model: " + cfg.model() + ", " + String.format(Locale.ROOT, "%,d", net.parameterCount()) + " parameters; " + opt.describe());
        System.out.println("train: " + cfg + " on " + be.describe().lines().findFirst().orElse(be.name()));
        Trainer trainer = new Trainer(be, net, opt, cfg, train, steps);
        Progress bar = new Progress(System.err);
        double trainSeconds = 0;
        long trainImages = 0;
        EpochMetrics lastMetrics = null;
        int last = stopAfter > 0 ? Math.min(cfg.epochs(), first + stopAfter - 1) : cfg.epochs();
        for (int e = first; e <= last; e++) {
            EpochMetrics m = epoch(bar, e, cfg.epochs(), trainer::trainEpoch, lastGood);
            if (m == null) return 3;
            Evaluation ev = Trainer.evaluate(be, net, splits.test(), 500);
            m = new EpochMetrics(m.epoch(), m.trainLoss(), m.trainAccuracy(), ev.loss(), ev.accuracy(), m.imagesPerSecond(), m.seconds(), m.lr());
            history.add(m);
            trainSeconds += m.seconds();
            trainImages += train.count();
            lastMetrics = m;
            System.out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.0f img/s, %.1f s, lr %.3g%n",
                e, cfg.epochs(), m.trainLoss(), m.trainAccuracy(), m.testLoss(), m.testAccuracy(), m.imagesPerSecond(), m.seconds(), m.lr());
            Checkpoint.save(ckpt, net, opt, cfg, e, trainer.steps(), history);
            lastGood = ckpt + " (epoch " + e + ")";
            writeMetrics(dir, history, cfg.model());
        }
        System.out.printf(Locale.ROOT, "metrics: %s, %s%n", dir.resolve("metrics.csv"), dir.resolve("metrics.png"));
        if (last < cfg.epochs())
            System.out.println("stopped after epoch " + last + " of " + cfg.epochs() + " (--stop-after); continue with --resume " + ckpt);
        System.out.printf(Locale.ROOT, "%s model=%s epochs=%d test_accuracy=%.4f images_per_s=%.0f checkpoint=%s%n",
                verb, cfg.model(), last, lastMetrics.testAccuracy(), trainImages / trainSeconds, ckpt);
        return 0;
    }

    /** One epoch's training, as the trainers do it: epoch number and progress listener → its metrics. */
    @FunctionalInterface
    interface EpochTrainer {
        EpochMetrics train(int epoch, Trainer.Listener listener);
    }

    /**
     * Trains epoch e with a progress bar; on a non-finite loss prints the error (naming the last good checkpoint)
     * and returns null, for the caller to exit with status 3.
     */
    static EpochMetrics epoch(Progress bar, int e, int epochs, EpochTrainer trainer, String lastGood) {
        String label = "epoch " + e + "/" + epochs;
        EpochMetrics m;
        try {
            m = trainer.train(e, (ep, i, n, images, secs, loss) -> bar.update(label, i, n, images, secs, loss));
        } catch (NonFiniteLossException ex) {
            bar.finish();
            System.err.println("fovea: error: " + ex.getMessage() + (lastGood != null ? "; the last good checkpoint is " + lastGood : "; no checkpoint of this run was written"));
            return null;
        }
        bar.finish();
        return m;
    }

    static void writeMetrics(Path dir, List<EpochMetrics> history, String title) throws IOException {
        StringBuilder csv = new StringBuilder(EpochMetrics.CSV_HEADER).append('\n');
        for (EpochMetrics m : history) csv.append(m.csv()).append('\n');
        Path tmp = dir.resolve("metrics.csv.tmp");
        Files.writeString(tmp, csv);
        Files.move(tmp, dir.resolve("metrics.csv"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Chart.write(dir.resolve("metrics.png"), history, title + ": loss and accuracy");
    }
}
