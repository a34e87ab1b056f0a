package dev.fovea.tasks;

import dev.fovea.data.Preprocessing;
import dev.fovea.data.coco.CocoDataset;
import dev.fovea.io.Json;
import dev.fovea.io.Metadata;
import dev.fovea.models.SceneNet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a scene-task checkpoint must say beside its weights to be used again: the task, the model's shape, the
 * categories its class indices stand for (COCO ids and names), and the pixel normalisation it was trained with.
 */
public record TaskSpec(Task task, SceneNet.Config model, List<CocoDataset.Category> categories, float pixelMean, float pixelStd) {
    /** The model name training checkpoints of scene tasks record. */
    public static final String MODEL = "scenenet";

    public TaskSpec {
        if (categories.size() != model.classes())
            throw new IllegalArgumentException("task: " + categories.size() + " categories for a model of " + model.classes() + " classes");
    }

    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", task.id());
        m.put("img_size", Integer.toString(model.imgSize()));
        m.put("in_chans", Integer.toString(model.inChans()));
        m.put("embed_dim", Integer.toString(model.dim()));
        m.put("depth", Integer.toString(model.depth()));
        m.put("num_heads", Integer.toString(model.heads()));
        StringBuilder cats = new StringBuilder("[");
        for (CocoDataset.Category c : categories)
            cats.append(cats.length() > 1 ? "," : "").append("{\"id\":").append(c.id()).append(",\"name\":").append(Json.quote(c.name())).append('}');
        m.put("categories", cats.append(']').toString());
        m.put("pixel_mean", Float.toString(pixelMean));
        m.put("pixel_std", Float.toString(pixelStd));
        return m;
    }

    public static TaskSpec fromMetadata(String source, Map<String, String> m) {
        if (!m.containsKey("task")) throw new IllegalArgumentException(source + ": not a scene-task checkpoint (its metadata has no \"task\")");
        try {
            Task task = Task.parse(m.get("task"));
            List<CocoDataset.Category> cats = new ArrayList<>();
            for (Object o : (List<?>) Json.parse(Metadata.string(source, m, "categories"))) {
                Map<?, ?> c = (Map<?, ?>) o;
                cats.add(new CocoDataset.Category(((Number) c.get("id")).longValue(), (String) c.get("name")));
            }
            SceneNet.Config cfg = new SceneNet.Config(Integer.parseInt(Metadata.string(source, m, "img_size")), Integer.parseInt(Metadata.string(source, m, "in_chans")),
                    cats.size(), Integer.parseInt(Metadata.string(source, m, "embed_dim")), Integer.parseInt(Metadata.string(source, m, "depth")),
                    Integer.parseInt(Metadata.string(source, m, "num_heads")), task.detection, task.segmentation, task.imageClass);
            return new TaskSpec(task, cfg, cats, Float.parseFloat(Metadata.string(source, m, "pixel_mean")), Float.parseFloat(Metadata.string(source, m, "pixel_std")));
        } catch (Json.ParseException e) {
            throw new IllegalArgumentException(source + ": bad \"categories\" in the scene-task metadata: " + e.getMessage());
        } catch (RuntimeException e) {
            if (e instanceof IllegalArgumentException && !(e instanceof NumberFormatException)) throw e;
            throw new IllegalArgumentException(source + ": bad scene-task metadata: " + e);
        }
    }


    public float[] pixelStats() { return new float[]{pixelMean, pixelStd}; }

    /**
     * How an image file becomes the model's input: its channels and size, the training pixels' mean and deviation,
     * inverted when its border is light (scenes are drawn on a dark canvas).
     */
    public Preprocessing preprocessing() {
        return Preprocessing.uniform(model.inChans(), model.imgSize(), pixelMean, pixelStd, Preprocessing.Invert.AUTO);
    }

    /** The category names in class-index order. */
    public String[] names() { return categories.stream().map(CocoDataset.Category::name).toArray(String[]::new); }

    @Override public String toString() {
        return String.format(Locale.ROOT, "task=%s image=%dx%dx%d classes=%d width=%d depth=%d heads=%d", task.id(), model.inChans(), model.imgSize(),
                model.imgSize(), model.classes(), model.dim(), model.depth(), model.heads());
    }
}
