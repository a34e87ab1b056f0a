package dev.fovea.inference;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.models.SceneNet;
import dev.fovea.tasks.DenseGrid;
import dev.fovea.tasks.SceneTask;
import dev.fovea.tasks.Task;
import dev.fovea.tasks.TaskSpec;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The scene tasks: where the objects are and what they are. A localization model finds one object per image, a
 * detector a box for each, a segmenter a class for each pixel, an instance model a mask for each object; a model
 * also does the tasks its heads cover (an instance model detects and segments).
 */
public final class SceneDetector implements Predictor {
    /**
     * One image's answer, in the coordinates of the model's input ({@code input().pixels()}, size × size).
     *
     * @param detections boxes [x0, y0, x1, y1] in input pixels with the class index into {@link #names()}, the score
     *                   and (instance segmentation) a mask [size × size]; empty for segmentation
     * @param labelMap   segmentation: a class per input pixel, 0 the background and 1 + i the class i; else null
     */
    public record Scene(Task task, List<DenseGrid.Detection> detections, int[] labelMap, Preprocessing.Input input) {}

    private final Backend be;
    private final SceneTask.Loaded model;
    private final Path source;

    private SceneDetector(Backend be, SceneTask.Loaded model, Path source) {
        this.be = be;
        this.model = model;
        this.source = source;
        model.net().train(false);
    }

    public static SceneDetector load(Backend be, Path path) throws IOException {
        return new SceneDetector(be, SceneTask.load(be, path), path);
    }

    @Override public Path source() { return source; }
    @Override public String describe() { return model.spec() + ", " + model.info().epochsDone() + " epochs"; }
    public TaskSpec spec() { return model.spec(); }
    /** The task it was trained for. */
    public Task task() { return model.spec().task(); }
    /** The categories' names; a detection's class indexes them. */
    public List<String> names() { return List.of(model.spec().names()); }
    public Preprocessing preprocessing() { return model.spec().preprocessing(); }

    /** The model itself (in evaluation mode; the detector owns it: do not close it). */
    public SceneNet model() { return model.net(); }

    public Scene detect(Path image) throws IOException { return detect(Images.read(image)); }

    /** Its own task on one image. */
    public Scene detect(BufferedImage image) { return detect(List.of(preprocessing().prepare(image)), task()).getFirst(); }

    /** {@code task} (one its heads cover) on inputs made by {@link #preprocessing()}. */
    public List<Scene> detect(List<Preprocessing.Input> inputs, Task task) {
        if (!task().covers(task)) throw new IllegalArgumentException(source + " was trained for " + task().id() + "; its heads cannot do " + task.id());
        int n = preprocessing().size();
        List<Scene> out = new ArrayList<>();
        List<float[]> xs = inputs.stream().map(Preprocessing.Input::input).toList();
        for (int start = 0; start < inputs.size(); start += Batches.SIZE) {
            int b = Math.min(Batches.SIZE, inputs.size() - start);
            float[] x = Batches.stack(xs, start, b, n, preprocessing().shape());
            List<SceneTask.Prediction> p = SceneTask.predict(be, model.net(), task, x, b);
            for (int i = 0; i < b; i++) out.add(new Scene(task, p.get(i).detections(), p.get(i).labels(), inputs.get(start + i)));
        }
        return out;
    }

    @Override public void close() { model.close(); }
}
