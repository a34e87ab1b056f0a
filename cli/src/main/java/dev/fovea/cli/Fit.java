package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Module;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.NonFiniteLossException;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Collective;
import dev.fovea.train.Trainer;
import dev.fovea.train.TrainingTask;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How the training commands show a run of the training loop: the model and run, a progress bar, a line per epoch,
 * the final line "{verb} NAME epochs=E RESULTS images_per_s=X checkpoint=PATH", and exit status 3 with the error
 * when the loss stops being finite.
 */
final class Fit {
    private Fit() {}

    /** The checkpoint a --resume names, read for its run before the model is built. */
    static Checkpoint.Info info(Path resume) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(resume)) { return Checkpoint.info(f); }
    }

    /** The resumed run's settings; a different --epochs stretches its schedule. */
    static TrainConfig resumed(Checkpoint.Info info, Integer epochs) {
        TrainConfig cfg = info.config();
        if (epochs == null || epochs == cfg.epochs()) return cfg;
        System.out.println("note: --epochs " + epochs + " differs from the checkpoint's " + cfg.epochs() + "; the schedule is stretched to " + epochs + " epochs");
        return cfg.withEpochs(epochs);
    }

    /** --out if given; else the folder of the checkpoint resumed; else runs/NAME. */
    static Path dir(Path out, Path resume, String name) {
        if (out != null) return out;
        if (resume != null) return resume.toAbsolutePath().getParent();
        return Path.of("runs", name);
    }

    /** Runs the loop for {@code task} (continuing {@code resume} if not null) into {@code dir}; returns the exit status. */
    static <B> int run(Backend be, Module net, Optimizer opt, TrainConfig cfg, TrainingTask<B> task, String model, Path resume, Path dir,
                       int stopAfter, boolean overwrite, String verb, RanksOptions parallel) throws IOException {
        Collective ranks = Distributed.collective(be);
        Trainer<B> trainer = new Trainer<>(be, net, opt, cfg, task).overwrite(overwrite).collective(ranks).bucketBytes(parallel.bucketBytes());
        if (ranks.size() > 1) System.out.println("ranks: " + ranks.describe() + "; each trains on its share of every batch of " + cfg.batch());
        if (resume != null) {
            trainer.resume(resume);
            System.out.println("resumed: " + resume + " after epoch " + trainer.epochsDone() + " (step " + trainer.steps() + ")");
        }
        System.out.println("model: " + model + ", " + String.format(Locale.ROOT, "%,d", net.parameterCount()) + " parameters; " + opt.describe());
        System.out.println("train: " + cfg + " on " + be.describe().lines().findFirst().orElse(be.name()));
        Progress bar = new Progress(ranks.rank() == 0 ? System.err : new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        Trainer.Result r;
        try {
            r = trainer.fit(dir, stopAfter, new Trainer.Listener() {
                @Override public void onStep(int epoch, int batch, int batches, long examples, double seconds, double loss) {
                    bar.update("epoch " + epoch + "/" + cfg.epochs(), batch, batches, examples, seconds, loss);
                }

                @Override public void onWarning(String message) {
                    bar.finish();
                    System.err.println("fovea: warning: " + message);
                }

                @Override public void onEpoch(EpochMetrics m, TrainingTask.TestReport report) {
                    bar.finish();
                    String acc = task.accuracyName() == null ? "" : String.format(Locale.ROOT, " %s %.4f", task.accuracyName(), m.trainAccuracy());
                    System.out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f%s | %s%.0f img/s, %.1f s, lr %.3g%n", m.epoch(), cfg.epochs(), m.trainLoss(), acc,
                            report == null ? "" : report.summary() + " | ", m.imagesPerSecond(), m.seconds(), m.lr());
                }
            });
        } catch (NonFiniteLossException e) {
            bar.finish();
            System.err.println("fovea: error: " + e.getMessage());
            return 3;
        } catch (Trainer.RunExistsException e) {
            throw new IllegalArgumentException(e.getMessage() + "; continue it with --resume " + e.dir.resolve("checkpoint.safetensors")
                    + ", write this run elsewhere with --out DIR, or pass --overwrite to replace it");
        }
        System.out.printf(Locale.ROOT, "metrics: %s, %s%n", dir.resolve("metrics.csv"), dir.resolve("metrics.png"));
        if (r.stoppedEarly())
            System.out.println("stopped after epoch " + r.lastEpoch() + " of " + cfg.epochs() + " (--stop-after); continue with --resume " + r.checkpoint());
        String results = r.report() != null ? r.report().resultFields() : String.format(Locale.ROOT, "loss=%.4f", r.metrics().trainLoss());
        System.out.printf(Locale.ROOT, "%s %s epochs=%d %s images_per_s=%.0f checkpoint=%s%n", verb, task.name(), r.lastEpoch(), results,
                r.examplesPerSecond(), r.checkpoint());
        return 0;
    }
}
