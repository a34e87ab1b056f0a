package dev.fovea.data.coco;

import dev.fovea.io.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A detection / segmentation dataset in COCO's format: a folder of images and an annotations JSON with
 * {@code images} (id, file_name, width, height), {@code categories} (id, name) and {@code annotations} (id,
 * image_id, category_id, bbox [x, y, w, h], segmentation as polygons or RLE, iscrowd). Reading checks every
 * annotation and names the first bad one: a missing field, an unknown image or category, a box outside its image,
 * a mask of another size.
 */
public final class CocoDataset {
    public record Category(long id, String name) {}

    public record Image(long id, String fileName, int width, int height) {}

    /** One object. {@code segmentation} is null when the file has none (boxes only). */
    public record Annotation(long id, long imageId, long categoryId, double[] bbox, Segmentation segmentation, boolean crowd) {}

    /** An object's mask as COCO stores it. */
    public sealed interface Segmentation permits PolygonMask, RleMask {}

    public record PolygonMask(List<double[]> polygons) implements Segmentation {}

    public record RleMask(Rle rle) implements Segmentation {}

    private final Path annotationsFile, imageDir;
    private final List<Category> categories;
    private final List<Image> images;
    private final Map<Long, Image> imagesById = new LinkedHashMap<>();
    private final Map<Long, List<Annotation>> byImage = new LinkedHashMap<>();

    public CocoDataset(Path annotationsFile, Path imageDir, List<Category> categories, List<Image> images, List<Annotation> annotations) {
        this.annotationsFile = annotationsFile;
        this.imageDir = imageDir;
        this.categories = List.copyOf(categories);
        this.images = List.copyOf(images);
        for (Image im : images) {
            if (imagesById.put(im.id(), im) != null) throw bad(annotationsFile, "image id " + im.id() + " appears twice");
            byImage.put(im.id(), new ArrayList<>());
        }
        Map<Long, Category> cats = new LinkedHashMap<>();
        for (Category c : categories)
            if (cats.put(c.id(), c) != null) throw bad(annotationsFile, "category id " + c.id() + " appears twice");
        for (Annotation a : annotations) {
            Image im = imagesById.get(a.imageId());
            if (im == null) throw bad(annotationsFile, "annotation " + a.id() + ": image_id " + a.imageId() + " is not among the images");
            if (!cats.containsKey(a.categoryId()))
                throw bad(annotationsFile, "annotation " + a.id() + ": category_id " + a.categoryId() + " is not among the categories " + cats.keySet());
            double[] b = a.bbox();
            if (b[2] <= 0 || b[3] <= 0)
                throw bad(annotationsFile, "annotation " + a.id() + ": bbox " + box(b) + " has no area");
            // half a pixel of slack for boxes written from rounded coordinates
            if (b[0] < -0.5 || b[1] < -0.5 || b[0] + b[2] > im.width() + 0.5 || b[1] + b[3] > im.height() + 0.5)
                throw bad(annotationsFile, "annotation " + a.id() + ": bbox " + box(b) + " lies outside image " + im.id() + " (" + im.width() + "x" + im.height() + ")");
            if (a.segmentation() instanceof RleMask(Rle r) && (r.height() != im.height() || r.width() != im.width()))
                throw bad(annotationsFile, "annotation " + a.id() + ": segmentation size [" + r.height() + ", " + r.width() + "] does not match image "
                        + im.id() + " (" + im.width() + "x" + im.height() + ")");
            byImage.get(a.imageId()).add(a);
        }
    }

    public Path annotationsFile() { return annotationsFile; }
    public Path imageDir() { return imageDir; }
    public List<Category> categories() { return categories; }
    public List<Image> images() { return images; }
    public Image image(long id) { return imagesById.get(id); }
    public List<Annotation> annotations(long imageId) { return byImage.getOrDefault(imageId, List.of()); }
    public Path imagePath(Image im) { return imageDir.resolve(im.fileName()); }

    /** The annotation's mask, row-major [height, width] of its image; null when it has no segmentation. */
    public byte[] mask(Annotation a) {
        Image im = imagesById.get(a.imageId());
        return switch (a.segmentation()) {
            case null -> null;
            case RleMask(Rle r) -> r.decode();
            case PolygonMask(List<double[]> p) -> Polygons.rasterize(p, im.height(), im.width());
        };
    }

    // ---------------------------------------------------------------- reading

    /** Reads {@code annotationsFile}; image file names are resolved against {@code imageDir}. */
    public static CocoDataset read(Path annotationsFile, Path imageDir) throws IOException {
        Object root;
        try {
            root = Json.parse(Files.readString(annotationsFile, StandardCharsets.UTF_8));
        } catch (Json.ParseException e) {
            throw bad(annotationsFile, "not valid JSON: " + e.getMessage());
        } catch (java.nio.charset.CharacterCodingException e) {
            throw bad(annotationsFile, "not UTF-8 text (" + e + ")");
        }
        if (!(root instanceof Map<?, ?> top)) throw bad(annotationsFile, "the top level is not a JSON object");
        List<Category> cats = new ArrayList<>();
        for (Map<?, ?> c : objects(annotationsFile, top, "categories"))
            cats.add(new Category(num(annotationsFile, c, "id", "category").longValue(), str(annotationsFile, c, "name", "category " + c.get("id"))));
        List<Image> ims = new ArrayList<>();
        for (Map<?, ?> m : objects(annotationsFile, top, "images")) {
            String what = "image " + m.get("id");
            ims.add(new Image(num(annotationsFile, m, "id", "image").longValue(), str(annotationsFile, m, "file_name", what),
                    num(annotationsFile, m, "width", what).intValue(), num(annotationsFile, m, "height", what).intValue()));
        }
        List<Annotation> anns = new ArrayList<>();
        int index = 0;
        for (Map<?, ?> m : objects(annotationsFile, top, "annotations")) {
            String what = m.get("id") instanceof Number n ? "annotation " + n.longValue() : "annotation #" + index + " (it has no \"id\")";
            long id = num(annotationsFile, m, "id", what).longValue();
            Object bb = m.get("bbox");
            if (!(bb instanceof List<?> bl) || bl.size() != 4 || !bl.stream().allMatch(v -> v instanceof Number))
                throw bad(annotationsFile, what + ": \"bbox\" must be [x, y, width, height], got " + (bb == null ? "nothing" : bb));
            double[] box = bl.stream().mapToDouble(v -> ((Number) v).doubleValue()).toArray();
            boolean crowd = m.get("iscrowd") instanceof Number n && n.intValue() != 0;
            anns.add(new Annotation(id, num(annotationsFile, m, "image_id", what).longValue(), num(annotationsFile, m, "category_id", what).longValue(),
                    box, segmentation(annotationsFile, what, m.get("segmentation")), crowd));
            index++;
        }
        return new CocoDataset(annotationsFile, imageDir, cats, ims, anns);
    }

    private static Segmentation segmentation(Path f, String what, Object s) {
        if (s == null) return null;
        if (s instanceof List<?> polys) {
            List<double[]> out = new ArrayList<>();
            for (Object p : polys) {
                if (!(p instanceof List<?> pl) || pl.size() < 6 || pl.size() % 2 != 0 || !pl.stream().allMatch(v -> v instanceof Number))
                    throw bad(f, what + ": a polygon must be [x1, y1, x2, y2, x3, y3, ...] (at least 3 points)");
                out.add(pl.stream().mapToDouble(v -> ((Number) v).doubleValue()).toArray());
            }
            return new PolygonMask(out);
        }
        if (s instanceof Map<?, ?> rle) {
            if (!(rle.get("size") instanceof List<?> size) || size.size() != 2)
                throw bad(f, what + ": an RLE segmentation needs \"size\": [height, width]");
            int h = ((Number) size.get(0)).intValue(), w = ((Number) size.get(1)).intValue();
            try {
                return switch (rle.get("counts")) {
                    case String c -> new RleMask(Rle.fromString(c, h, w));
                    case List<?> c -> new RleMask(new Rle(h, w, c.stream().mapToInt(v -> ((Number) v).intValue()).toArray()));
                    case null, default -> throw bad(f, what + ": an RLE segmentation needs \"counts\" (a list or a compressed string)");
                };
            } catch (IllegalArgumentException e) {
                if (e.getMessage().startsWith(f.toString())) throw e;
                throw bad(f, what + ": " + e.getMessage());
            }
        }
        throw bad(f, what + ": \"segmentation\" must be a list of polygons or an RLE object");
    }

    static List<Map<?, ?>> objects(Path f, Map<?, ?> top, String key) {
        if (!(top.get(key) instanceof List<?> l)) throw bad(f, "no \"" + key + "\" list at the top level");
        List<Map<?, ?>> out = new ArrayList<>();
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof Map<?, ?> m)) throw bad(f, "\"" + key + "\"[" + i + "] is not an object");
            out.add(m);
        }
        return out;
    }

    static Number num(Path f, Map<?, ?> m, String key, String what) {
        if (!(m.get(key) instanceof Number n)) throw bad(f, what + ": missing number \"" + key + "\"");
        return n;
    }

    static String str(Path f, Map<?, ?> m, String key, String what) {
        if (!(m.get(key) instanceof String s)) throw bad(f, what + ": missing string \"" + key + "\"");
        return s;
    }

    static IllegalArgumentException bad(Path f, String msg) { return new IllegalArgumentException(f + ": " + msg); }

    private static String box(double[] b) {
        return String.format(Locale.ROOT, "[%s, %s, %s, %s]", fmt(b[0]), fmt(b[1]), fmt(b[2]), fmt(b[3]));
    }

    private static String fmt(double v) { return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v); }

    // ---------------------------------------------------------------- writing

    /** This dataset's annotations as COCO JSON (masks as uncompressed RLE, bboxes as given). */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\"categories\": [");
        for (int i = 0; i < categories.size(); i++) {
            Category c = categories.get(i);
            sb.append(i == 0 ? "" : ", ").append("{\"id\": ").append(c.id()).append(", \"name\": ").append(Json.quote(c.name())).append('}');
        }
        sb.append("],\n\"images\": [");
        for (int i = 0; i < images.size(); i++) {
            Image im = images.get(i);
            sb.append(i == 0 ? "\n" : ",\n").append("{\"id\": ").append(im.id()).append(", \"file_name\": ").append(Json.quote(im.fileName()))
                    .append(", \"width\": ").append(im.width()).append(", \"height\": ").append(im.height()).append('}');
        }
        sb.append("],\n\"annotations\": [");
        boolean first = true;
        for (List<Annotation> as : byImage.values())
            for (Annotation a : as) {
                sb.append(first ? "\n" : ",\n").append("{\"id\": ").append(a.id()).append(", \"image_id\": ").append(a.imageId())
                        .append(", \"category_id\": ").append(a.categoryId()).append(", \"bbox\": ").append(box(a.bbox()))
                        .append(", \"iscrowd\": ").append(a.crowd() ? 1 : 0);
                if (a.segmentation() instanceof RleMask(Rle r)) {
                    sb.append(", \"area\": ").append(r.area()).append(", \"segmentation\": {\"size\": [").append(r.height()).append(", ").append(r.width())
                            .append("], \"counts\": [");
                    for (int i = 0; i < r.counts().length; i++) sb.append(i == 0 ? "" : ", ").append(r.counts()[i]);
                    sb.append("]}");
                } else if (a.segmentation() instanceof PolygonMask(List<double[]> ps)) {
                    sb.append(", \"segmentation\": [");
                    for (int i = 0; i < ps.size(); i++) {
                        sb.append(i == 0 ? "[" : ", [");
                        double[] p = ps.get(i);
                        for (int k = 0; k < p.length; k++) sb.append(k == 0 ? "" : ", ").append(fmt(p[k]));
                        sb.append(']');
                    }
                    sb.append(']');
                }
                sb.append('}');
                first = false;
            }
        sb.append("]}\n");
        return sb.toString();
    }
}
