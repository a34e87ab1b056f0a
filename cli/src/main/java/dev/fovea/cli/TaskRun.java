package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.inference.SceneDetector;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.SceneNet;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.DenseGrid;
import dev.fovea.tasks.SceneData;
import dev.fovea.tasks.SceneTask;
import dev.fovea.tasks.Task;
import dev.fovea.tasks.TaskSpec;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.TrainConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** {@code train}, {@code eval} and {@code predict} with {@code --task}: the scene tasks on a COCO-format folder. */
final class TaskRun {
    private TaskRun() {}

    /** The --task names train and eval take: the scene tasks, caption and generate. */
    static void checkName(String task) {
        if (task == null || task.equals("caption") || task.equals("generate")) return;
        try {
            Task.parse(task);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown task '" + task + "', expected localize, detect, segment, instance, caption or generate");
        }
    }

    /** DIR/NAME when DIR holds a folder NAME with annotations.json, else DIR itself when it has one. */
    static Path split(Path dir, String name) throws IOException { return split(dir, name, "annotations.json"); }

    /** DIR/NAME when it holds {@code file}, else DIR itself when it has it. */
    static Path split(Path dir, String name, String file) throws IOException {
        if (Files.isRegularFile(dir.resolve(name).resolve(file))) return dir.resolve(name);
        if (Files.isRegularFile(dir.resolve(file))) return dir;
        throw new NoSuchFileException(dir + ": neither " + dir.resolve(name).resolve(file) + " nor " + dir.resolve(file)
                + " (--data takes a COCO folder, as `fovea scenes --out DIR` writes)");
    }

    // ---------------------------------------------------------------- train

    static int train(TrainCommand o) throws IOException {
        if (o.data == null) throw new IllegalArgumentException("--task needs --data DIR: a COCO folder with train/ and test/ (`fovea scenes --out DIR` makes one)");
        TrainConfig cfg;
        TaskSpec resumed = null;
        Task asked = o.task != null ? Task.parse(o.task) : null;
        if (o.resume != null) {
            Checkpoint.Info info = Fit.info(o.resume);
            try (SafetensorsFile f = SafetensorsFile.open(o.resume)) { resumed = TaskSpec.fromMetadata(o.resume.toString(), f.metadata()); }
            if (asked != null && asked != resumed.task())
                throw new IllegalArgumentException(o.resume + " was trained for --task " + resumed.task().id() + ", not " + o.task);
            cfg = Fit.resumed(info, o.epochs);
        } else {
            if (o.activation != null) throw new IllegalArgumentException("--activation applies to lenet5 models only");
            cfg = o.settings(SceneTask.defaults(asked)).build();
        }
        Task task = resumed != null ? resumed.task() : asked;
        SceneData train = SceneData.load(split(o.data, "train"), resumed != null ? resumed.categories() : null, task.segmentation);
        SceneData test = SceneData.load(split(o.data, "test"), train.categories(), task.segmentation);
        if (o.limit > 0) System.out.println("note: --limit does not apply to --task runs; training on all " + train.count() + " images");
        System.out.println("data: " + train.count() + " training images (" + train.coco().annotationsFile() + "), " + test.count() + " test images, "
                + train.categories().size() + " categories, " + train.channels() + "x" + train.size() + "x" + train.size());
        TaskSpec spec = resumed;
        if (spec == null) {
            float[] stats = train.pixelStats();
            spec = new TaskSpec(task, SceneNet.Config.standard(train.size(), train.channels(), train.categories().size(), task.detection, task.segmentation,
                    task.imageClass), train.categories(), stats[0], stats[1]);
        } else if (resumed.model().imgSize() != train.size() || resumed.model().inChans() != train.channels())
            throw new IllegalArgumentException(o.data + ": images are " + train.channels() + "x" + train.size() + "x" + train.size() + ", the checkpoint's model takes "
                    + resumed.model().inChans() + "x" + resumed.model().imgSize() + "x" + resumed.model().imgSize());
        try (Backend be = o.engine.open(); SceneNet net = new SceneNet(be, spec.model(), cfg.seed()); Optimizer opt = cfg.newOptimizer(be, net)) {
            return Fit.run(be, net, opt, cfg, new SceneTask(be, net, cfg, spec, train, test), spec.toString(), o.resume,
                    Fit.dir(o.out, o.resume, task.id()), o.stopAfter, o.overwrite, "trained", o.parallel);
        }
    }

    // ---------------------------------------------------------------- eval

    static int eval(Path weights, Path data, String taskName, int batch, EngineOptions engine) throws IOException {
        if (data == null) throw new IllegalArgumentException("--task needs --data DIR: a COCO folder (its test/ split, or DIR itself)");
        try (Backend be = engine.open(); SceneTask.Loaded w = SceneTask.load(be, weights)) {
            Task task = taskName != null ? Task.parse(taskName) : w.spec().task();
            if (!w.spec().task().covers(task))
                throw new IllegalArgumentException(weights + " was trained for " + w.spec().task().id() + "; its heads cannot do " + task.id());
            // the label maps whenever the model segments: its loss covers all its heads
            SceneData test = SceneData.load(split(data, "test"), w.spec().categories(), w.spec().task().segmentation);
            System.out.println("data: " + test.count() + " images (" + test.coco().annotationsFile() + ")");
            System.out.println("model: " + w.spec() + " from " + weights + " (" + w.info().epochsDone() + " epochs)");
            SceneTask.Report r = SceneTask.evaluate(be, w.net(), task, test, w.spec().pixelStats(), batch);
            System.out.println(task == Task.SEGMENT ? "per class: IoU" : "per class: " + (task == Task.INSTANCE ? "mask" : "box") + " AP over IoU 0.50:0.95");
            r.details().perClass(w.spec().names()).forEach((name, v) -> System.out.printf(Locale.ROOT, "  %-12s %.4f%n", name, v));
            System.out.printf(Locale.ROOT, "eval task=%s images=%d loss=%.4f %s%n", task.id(), test.count(), r.loss(), SceneTask.metrics(r.metrics()));
            return 0;
        }
    }

    // ---------------------------------------------------------------- predict

    /**
     * Runs a scene-task model on image files and draws the answers: one image → {@code out} is the picture's file;
     * several → {@code out} is a folder of NAME-TASK.png. Prints each detection. Pictures that exist are refused
     * before the first image unless {@code overwrite}.
     */
    static int predict(SceneDetector d, List<Path> images, String taskName, Path out, boolean overwrite, double minScore, Preprocessing.Invert invert) throws IOException {
        if (out == null) throw new IllegalArgumentException("predict --task needs --out: the picture to write (a folder when there are several images)");
        if (!(minScore >= 0 && minScore <= 1)) throw new IllegalArgumentException("--min-score must be in [0, 1], got " + minScore);
        Task task = taskName != null ? Task.parse(taskName) : d.task();
        Preprocessing pre = invert == Preprocessing.Invert.AUTO ? d.preprocessing() : d.preprocessing().withInvert(invert);
        int s = pre.height(), c = pre.channels();
        String[] names = d.names().toArray(String[]::new);
        List<Path> files = images.stream().map(image -> images.size() > 1 ? out.resolve(stem(image) + "-" + task.id() + ".png") : out).toList();
        for (Path f : files) ImageFiles.refuseToReplace(f, overwrite);
        if (images.size() > 1) Files.createDirectories(out);
        for (int k = 0; k < images.size(); k++) {
            Path image = images.get(k), file = files.get(k);
            Preprocessing.Input in = pre.prepare(Images.read(image));
            if (!in.notes().isEmpty()) System.out.println("note: " + image + ": converted: " + String.join(", ", in.notes()));
            SceneDetector.Scene p = d.detect(List.of(in), task).getFirst();
            int shown = 0;
            for (DenseGrid.Detection det : p.detections()) {
                if (det.score() < minScore) continue;
                shown++;
                System.out.printf(Locale.ROOT, "%s: %s %.3f box [%.1f, %.1f, %.1f, %.1f]%s%n", image, names[det.cls()], det.score(),
                        det.box()[0], det.box()[1], det.box()[2], det.box()[3], det.mask() != null ? " mask " + dev.fovea.metrics.Boxes.maskArea(det.mask()) + " px" : "");
            }
            if (p.labelMap() != null && task == Task.SEGMENT) {
                int[] count = new int[names.length + 1];
                for (int l : p.labelMap()) count[l]++;
                for (int j = 1; j < count.length; j++)
                    if (count[j] > 0) System.out.printf(Locale.ROOT, "%s: %s %d px%n", image, names[j - 1], count[j]);
            }
            float[] px = new float[in.pixels().length];
            for (int i = 0; i < px.length; i++) px[i] = in.pixels()[i] & 0xff;
            ImageFiles.savePng(SceneDrawing.draw(px, c, s, new SceneTask.Prediction(p.detections(), p.labelMap()), names, minScore, Math.max(1, 256 / s)), file);
            System.out.println("predicted task=" + task.id() + " image=" + image + " shown=" + (task == Task.SEGMENT ? "label map" : shown + " objects") + " out=" + file);
        }
        return 0;
    }

    private static String stem(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
