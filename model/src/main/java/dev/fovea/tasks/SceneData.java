package dev.fovea.tasks;

import dev.fovea.data.coco.CocoDataset;
import dev.fovea.data.coco.CocoImages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A COCO split in memory, in the form the scene tasks train on: the images as bytes, and for each image its objects
 * (class index into the model's category list, box [x, y, w, h], crowd flag, annotation id) and, when asked for,
 * a semantic label map (0 background, 1 + class index) painted from the instance masks.
 */
public final class SceneData {
    /** One image's objects, index-aligned. */
    public record Objects(int[] classes, double[][] boxes, boolean[] crowd, long[] ids) {}

    /**
     * A training image changed without changing what it shows: mirrored left to right (first, when {@code mirror}),
     * then moved by (dx, dy) pixels, what enters the canvas being background (a raw 0 pixel, as the scenes' is).
     * Its objects' boxes and label maps move with it.
     */
    public record Move(boolean mirror, int dx, int dy) {
        public static final Move NONE = new Move(false, 0, 0);

        /** The source column of output column c of a row of w pixels; outside [0, w) when it entered the canvas. */
        int column(int c, int w) { return mirror ? w - 1 - (c - dx) : c - dx; }
    }

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

    /** Image i's objects after move m. */
    public Objects objects(int i, Move m) {
        if (m.equals(Move.NONE)) return objects[i];
        Objects o = objects[i];
        double w = images.width();
        double[][] boxes = new double[o.boxes().length][];
        for (int j = 0; j < boxes.length; j++) {
            double[] b = o.boxes()[j];
            boxes[j] = new double[]{(m.mirror() ? w - b[0] - b[2] : b[0]) + m.dx(), b[1] + m.dy(), b[2], b[3]};
        }
        return new Objects(o.classes(), boxes, o.crowd(), o.ids());
    }

    /**
     * A random move of image i: mirrored half the time, then shifted by up to {@code maxShift} pixels each way, as
     * far as its objects stay whole on the canvas.
     */
    public Move randomMove(int i, SplittableRandom rng, int maxShift) {
        boolean mirror = rng.nextBoolean();
        Objects o = objects(i, new Move(mirror, 0, 0));
        double x0 = Double.POSITIVE_INFINITY, y0 = x0, x1 = Double.NEGATIVE_INFINITY, y1 = x1;
        for (double[] b : o.boxes()) {
            x0 = Math.min(x0, b[0]); y0 = Math.min(y0, b[1]);
            x1 = Math.max(x1, b[0] + b[2]); y1 = Math.max(y1, b[1] + b[3]);
        }
        if (o.boxes().length == 0) x0 = y0 = x1 = y1 = 0;
        return new Move(mirror, shift(rng, x0, x1, images.width(), maxShift), shift(rng, y0, y1, images.height(), maxShift));
    }

    /** A shift in [−max, max] keeping [lo, hi] inside [0, side] (0 when nothing else does). */
    private static int shift(SplittableRandom rng, double lo, double hi, int side, int max) {
        int a = Math.min(0, Math.max(-max, (int) Math.ceil(-lo))), b = Math.max(0, Math.min(max, (int) Math.floor(side - hi)));
        return a + rng.nextInt(b - a + 1);
    }

    public long imageId(int i) { return coco().images().get(i).id(); }

    /** Pixel p's label in image i's map (0 background, 1 + class); only when loaded with label maps. */
    public int label(int i, int pixel) { return semantic[i * images.height() * images.width() + pixel]; }

    /** Pixel p's label in image i's map after move m. */
    public int label(int i, Move m, int pixel) {
        int w = images.width(), h = images.height(), r = pixel / w - m.dy(), c = m.column(pixel % w, w);
        return r >= 0 && r < h && c >= 0 && c < w ? label(i, r * w + c) : 0;
    }

    public boolean hasSemantic() { return semantic != null; }

    /** Mean and standard deviation of all pixels in [0, 1]: the normalisation a model trained on this split uses. */
    public float[] pixelStats() { return images.pixelStats(); }

    /** Images idx, normalised ((v − mean) / std), into dst [B, C, H, W]. */
    public void batch(int[] idx, float mean, float std, float[] dst) { batch(idx, null, mean, std, dst); }

    /** Images idx after moves (null: none), normalised, into dst [B, C, H, W]. */
    public void batch(int[] idx, Move[] moves, float mean, float std, float[] dst) {
        int h = images.height(), w = images.width(), n = images.channels() * h * w;
        float[] src = moves == null ? null : new float[n];
        for (int b = 0; b < idx.length; b++) {
            Move m = moves == null ? Move.NONE : moves[b];
            if (m.equals(Move.NONE)) images.unit(idx[b], dst, b * n);
            else {
                images.unit(idx[b], src, 0);
                for (int p = 0; p < n; p++) {
                    int plane = p / (h * w), r = p / w % h - m.dy(), c = m.column(p % w, w);
                    dst[b * n + p] = r >= 0 && r < h && c >= 0 && c < w ? src[plane * h * w + r * w + c] : 0f;
                }
            }
            for (int k = b * n; k < (b + 1) * n; k++) dst[k] = (dst[k] - mean) / std;
        }
    }
}
