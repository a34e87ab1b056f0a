package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.ImageDataset;
import dev.fovea.train.Evaluation;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fovea eval}: test accuracy and the confusion matrix of a checkpoint. */
@Command(name = "eval", description = {"Accuracy, loss and confusion matrix of a trained checkpoint on the test split;",
        "with --task, the task's COCO metrics on a COCO folder. Last line: eval task=T images=N loss=L METRIC=V ..."})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by fovea train") Path weights;
    @Option(names = "--data", description = "directory of MNIST-format IDX files (default: /usr/share/datasets/fashion-mnist if present, else the embedded sample)")
    Path data;
    @Option(names = "--task", description = "localize, detect, segment, instance, caption or generate (default for a task's checkpoint: its own task; an instance model also does detect and segment)")
    String task;
    @Option(names = "--classifier", description = "with --task generate: the classifier that judges the samples (default: the one the checkpoint names)") Path classifier;
    @Option(names = "--count", description = "with --task generate: samples in all, spread evenly over the classes (default: ${DEFAULT-VALUE})") int count = 1000;
    @Option(names = "--temperature", description = "with --task generate: sampling temperature (default: ${DEFAULT-VALUE})") float temperature = 1f;
    @Option(names = "--seed", description = "with --task generate: sampling seed (default: ${DEFAULT-VALUE})") long seed = 1;
    @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})") int batch = 500;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        TaskRun.checkName(task);
        if ("caption".equals(task) || task == null && "caption".equals(Checkpoint.task(weights))) return CaptionRun.eval(weights, data, batch, engine);
        if ("generate".equals(task) || task == null && "generate".equals(Checkpoint.task(weights)))
            return GenerateRun.eval(weights, data, classifier, count, temperature, seed, engine);
        if (task != null || Checkpoint.task(weights) != null) return TaskRun.eval(weights, data, task, batch, engine);
        ImageDataset test = ImageDataset.resolveTest(data);
        System.out.println("data: " + test.source() + " (" + test.count() + " test images)");
        try (Backend be = engine.open(); ClassificationTask.Loaded w = ClassificationTask.load(be, weights)) {
            System.out.println("model: " + w.config().model() + " from " + weights + " (" + w.epochs() + " epochs)");
            Evaluation ev = ClassificationTask.evaluate(be, w.model(), test, batch);
            System.out.print(ev.confusionTable(w.labels().toArray(String[]::new)));
            System.out.printf(Locale.ROOT, "eval model=%s images=%d loss=%.4f accuracy=%.4f%n", w.config().model(), test.count(), ev.loss(), ev.accuracy());
            return 0;
        }
    }
}
