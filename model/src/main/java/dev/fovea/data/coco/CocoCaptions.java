package dev.fovea.data.coco;

import dev.fovea.io.Json;
import dev.fovea.text.Vocabulary;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Captions in COCO's format ({@code captions_*.json}): {@code images} (id, file_name, width, height) and
 * {@code annotations} (id, image_id, caption), several captions per image. Reading names the first bad annotation:
 * a missing field, an unknown image, a caption without words.
 */
public final class CocoCaptions {
    private final Path file;
    private final List<CocoDataset.Image> images;
    private final Map<Long, List<String>> byImage = new LinkedHashMap<>();

    public CocoCaptions(Path file, List<CocoDataset.Image> images, Map<Long, List<String>> captions) {
        this.file = file;
        this.images = List.copyOf(images);
        for (CocoDataset.Image im : images) byImage.put(im.id(), new ArrayList<>());
        captions.forEach((id, cs) -> {
            List<String> list = byImage.get(id);
            if (list == null) throw CocoDataset.bad(file, "captions for image " + id + ", which is not among the images");
            list.addAll(cs);
        });
    }

    public Path file() { return file; }
    public List<CocoDataset.Image> images() { return images; }

    /** An image's captions, in the file's order (empty when it has none). */
    public List<String> captions(long imageId) { return byImage.getOrDefault(imageId, List.of()); }

    public static CocoCaptions read(Path file) throws IOException {
        Object root;
        try {
            root = Json.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (Json.ParseException e) {
            throw CocoDataset.bad(file, "not valid JSON: " + e.getMessage());
        } catch (java.nio.charset.CharacterCodingException e) {
            throw CocoDataset.bad(file, "not UTF-8 text (" + e + ")");
        }
        if (!(root instanceof Map<?, ?> top)) throw CocoDataset.bad(file, "the top level is not a JSON object");
        List<CocoDataset.Image> ims = new ArrayList<>();
        Map<Long, CocoDataset.Image> known = new LinkedHashMap<>();
        for (Map<?, ?> m : CocoDataset.objects(file, top, "images")) {
            String what = "image " + m.get("id");
            CocoDataset.Image im = new CocoDataset.Image(CocoDataset.num(file, m, "id", "image").longValue(), CocoDataset.str(file, m, "file_name", what),
                    CocoDataset.num(file, m, "width", what).intValue(), CocoDataset.num(file, m, "height", what).intValue());
            if (known.put(im.id(), im) != null) throw CocoDataset.bad(file, "image id " + im.id() + " appears twice");
            ims.add(im);
        }
        Map<Long, List<String>> caps = new LinkedHashMap<>();
        int index = 0;
        for (Map<?, ?> m : CocoDataset.objects(file, top, "annotations")) {
            String what = m.get("id") instanceof Number n ? "annotation " + n.longValue() : "annotation #" + index + " (it has no \"id\")";
            CocoDataset.num(file, m, "id", what);
            long image = CocoDataset.num(file, m, "image_id", what).longValue();
            String caption = CocoDataset.str(file, m, "caption", what);
            if (!known.containsKey(image)) throw CocoDataset.bad(file, what + ": image_id " + image + " is not among the images");
            if (Vocabulary.words(caption).isEmpty()) throw CocoDataset.bad(file, what + ": the caption \"" + caption + "\" has no words");
            caps.computeIfAbsent(image, k -> new ArrayList<>()).add(caption);
            index++;
        }
        return new CocoCaptions(file, ims, caps);
    }

    /** As COCO writes captions: images, then one annotation per caption, numbered from 1. */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\"images\": [");
        for (int i = 0; i < images.size(); i++) {
            CocoDataset.Image im = images.get(i);
            sb.append(i > 0 ? ",\n  " : "\n  ").append("{\"id\": ").append(im.id()).append(", \"file_name\": ").append(Json.quote(im.fileName()))
                    .append(", \"width\": ").append(im.width()).append(", \"height\": ").append(im.height()).append('}');
        }
        sb.append("],\n\"annotations\": [");
        long id = 1;
        for (CocoDataset.Image im : images)
            for (String c : captions(im.id())) {
                sb.append(id > 1 ? ",\n  " : "\n  ").append("{\"id\": ").append(id++).append(", \"image_id\": ").append(im.id())
                        .append(", \"caption\": ").append(Json.quote(c)).append('}');
            }
        return sb.append("]}\n").toString();
    }
}
