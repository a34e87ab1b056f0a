package dev.fovea.tasks;

import dev.fovea.data.coco.CocoDataset;
import dev.fovea.data.coco.CocoImages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A COCO split in memory, in the form the scene tasks train on: the images as bytes, and for each image its objects
 * (class index into the model's category list, box [x, y, w, h], crowd flag, annotation id) and, when asked for,
 * a semantic label map (0 background, 1 + class index) painted from the instance masks.
 */
public final class SceneData {
    /** One image's objects, index-aligned. */
    public record Objects(int[] classes, double[][] boxes, boolean[] crowd, long[] ids) {}

    private final CocoImages images;
    private final List<CocoDataset.Category> categories;
    private final Objects[] objects;
    private final byte[] semantic;

    private SceneData(CocoImages images, List<CocoDataset.Category> categories, Objects[] objects, byte[] semantic) {
        this.images = images;
        this.categories = categories;
        this.objects = objects;
        this.semantic = semantic;
    }

    /**
     * A split folder: {@code DIR/annotations.json} and the images in {@code DIR/images} (or DIR itself).
     * {@code categories} is the model's category list (null: this file's, in its order); every category of the file
     * must be among them. With {@code semantic}, every non-crowd object must have a mask.
     */
    public static SceneData load(Path dir, List<CocoDataset.Category> categories, boolean semantic) throws IOException {
        Path ann = dir.resolve("annotations.json");
        if (!Files.isRegularFile(ann))
            throw new NoSuchFileException(ann + " (a COCO split folder holds annotations.json and its images; `fovea scenes` makes one)");
        Path imageDir = Files.isDirectory(dir.resolve("images")) ? dir.resolve("images") : dir;
        CocoDataset coco = CocoDataset.read(ann, imageDir);
        List<CocoDataset.Category> cats = categories != null ? categories : coco.categories();
        if (cats.isEmpty()) throw new IllegalArgumentException(ann + ": no categories");
        for (CocoDataset.Category c : coco.categories())
            if (index(cats, c.id()) < 0)
                throw new IllegalArgumentException(ann + ": category " + c.id() + " (" + c.name() + ") is not one the model knows: " + names(cats));
        CocoImages px = CocoImages.load(coco);
        int n = px.count(), hw = px.height() * px.width();
        Objects[] objs = new Objects[n];
        byte[] sem = semantic ? new byte[n * hw] : null;
        for (int i = 0; i < n; i++) {
            List<CocoDataset.Annotation> as = coco.annotations(coco.images().get(i).id());
            int k = as.size();
            int[] cls = new int[k];
            double[][] boxes = new double[k][];
            boolean[] crowd = new boolean[k];
            long[] ids = new long[k];
            for (int j = 0; j < k; j++) {
                CocoDataset.Annotation a = as.get(j);
                cls[j] = index(cats, a.categoryId());
                boxes[j] = a.bbox().clone();
                crowd[j] = a.crowd();
                ids[j] = a.id();
                if (sem == null || a.crowd()) continue;
                byte[] m = coco.mask(a);
                if (m == null) throw new IllegalArgumentException(ann + ": annotation " + a.id() + " has no segmentation; segmentation tasks need a mask for every object");
                for (int p = 0; p < hw; p++) if (m[p] != 0) sem[i * hw + p] = (byte) (1 + cls[j]);
            }
            objs[i] = new Objects(cls, boxes, crowd, ids);
        }
        return new SceneData(px, List.copyOf(cats), objs, sem);
    }

    static int index(List<CocoDataset.Category> cats, long id) {
        for (int i = 0; i < cats.size(); i++) if (cats.get(i).id() == id) return i;
        return -1;
    }

    private static String names(List<CocoDataset.Category> cats) {
        List<String> s = new ArrayList<>();
        for (CocoDataset.Category c : cats) s.add(c.id() + " " + c.name());
        return String.join(", ", s);
    }

    public CocoImages images() { return images; }
    public CocoDataset coco() { return images.dataset(); }
    public List<CocoDataset.Category> categories() { return categories; }
    public int count() { return objects.length; }
    public int size() { return images.height(); }
    public int channels() { return images.channels(); }
    public Objects objects(int i) { return objects[i]; }
    public long imageId(int i) { return coco().images().get(i).id(); }

    /** Pixel p's label in image i's map (0 background, 1 + class); only when loaded with label maps. */
    public int label(int i, int pixel) { return semantic[i * images.height() * images.width() + pixel]; }

    public boolean hasSemantic() { return semantic != null; }

    /** Mean and standard deviation of all pixels in [0, 1]: the normalisation a model trained on this split uses. */
    public float[] pixelStats() { return images.pixelStats(); }

    /** Images idx, normalised ((v − mean) / std), into dst [B, C, H, W]. */
    public void batch(int[] idx, float mean, float std, float[] dst) {
        int n = images.channels() * images.height() * images.width();
        for (int b = 0; b < idx.length; b++) {
            images.unit(idx[b], dst, b * n);
            for (int k = b * n; k < (b + 1) * n; k++) dst[k] = (dst[k] - mean) / std;
        }
    }
}
