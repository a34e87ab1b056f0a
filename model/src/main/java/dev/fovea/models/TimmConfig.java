package dev.fovea.models;

import dev.fovea.data.Preprocessing;
import dev.fovea.data.Resample;
import dev.fovea.io.Json;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code config.json} that timm and the Hugging Face hub save beside a {@code model.safetensors}: its
 * {@code architecture} (a timm name such as {@code vit_tiny_patch16_224}, whose size, patch and image size the name
 * gives), {@code num_classes}, {@code global_pool}, {@code model_args} (which win over the name) and
 * {@code pretrained_cfg.input_size}, read into the metadata keys {@link ViTConfig#fromMetadata} reads.
 */
public final class TimmConfig {
    private TimmConfig() {}

    /** timm's ViT sizes: width, depth, heads. */
    private static final Map<String, int[]> SIZES = Map.of("tiny", new int[]{192, 12, 3}, "small", new int[]{384, 12, 6},
            "base", new int[]{768, 12, 12}, "large", new int[]{1024, 24, 16}, "huge", new int[]{1280, 32, 16});
    private static final Pattern VIT = Pattern.compile("vit_(tiny|small|base|large|huge)_patch(\\d+)_(\\d+)(\\..*)?");

    /** The config.json beside a weights file, or null when there is none. */
    public static Path beside(Path weights) {
        Path dir = weights.toAbsolutePath().getParent();
        Path json = dir == null ? null : dir.resolve("config.json");
        return json != null && Files.isRegularFile(json) ? json : null;
    }

    private static Map<?, ?> parse(Path json) throws IOException {
        Object root;
        try {
            root = Json.parse(Files.readString(json, StandardCharsets.UTF_8));
        } catch (Json.ParseException e) {
            throw new IllegalArgumentException(json + ": not valid JSON: " + e.getMessage());
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(json + ": not UTF-8 text");
        }
        if (!(root instanceof Map<?, ?> top)) throw new IllegalArgumentException(json + ": the top level is not a JSON object");
        return top;
    }

    /**
     * How an image becomes the model's input, from {@code pretrained_cfg} (mean, std, interpolation, crop_pct) with
     * timm's defaults for what it leaves out ({@code resolve_data_config}: ImageNet's mean and deviation, crop 0.875,
     * bicubic); {@code json} null (a file with no config.json beside it) takes the defaults. The size and channels
     * are the model's.
     */
    public static Preprocessing preprocessing(Path json, ViTConfig cfg) throws IOException {
        Map<?, ?> pre = json != null && parse(json).get("pretrained_cfg") instanceof Map<?, ?> p ? p : Map.of();
        String src = json + ": pretrained_cfg.";
        int c = cfg.inChans();
        float[] mean = pre.containsKey("mean") ? floats(src + "mean", pre.get("mean"), c) : c == 3 ? Preprocessing.IMAGENET_MEAN : null;
        float[] std = pre.containsKey("std") ? floats(src + "std", pre.get("std"), c) : c == 3 ? Preprocessing.IMAGENET_STD : null;
        if (mean == null || std == null)
            throw new IllegalArgumentException((json != null ? json + ": pretrained_cfg has" : "no config.json, and so") + " no mean and std for a model of "
                    + c + " channels (timm's defaults are for RGB)");
        Object crop = pre.get("crop_pct"), interp = pre.get("interpolation");
        if (crop != null && !(crop instanceof Number)) throw new IllegalArgumentException(src + "crop_pct is " + crop + ", not a number");
        if (interp != null && !(interp instanceof String)) throw new IllegalArgumentException(src + "interpolation is " + interp + ", not a name");
        try {
            return new Preprocessing(c, cfg.imgSize(), cfg.imgSize(), mean, std, Resample.Filter.parse(interp != null ? (String) interp : "bicubic"),
                    crop != null ? ((Number) crop).doubleValue() : Preprocessing.TIMM_CROP_PCT, Preprocessing.Invert.NEVER);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(json + ": " + e.getMessage());
        }
    }

    private static float[] floats(String what, Object v, int channels) {
        if (!(v instanceof List<?> l) || l.size() != channels || !l.stream().allMatch(o -> o instanceof Number))
            throw new IllegalArgumentException(what + " is " + v + ", not " + channels + " numbers (one a channel)");
        float[] out = new float[channels];
        for (int i = 0; i < channels; i++) out[i] = ((Number) l.get(i)).floatValue();
        return out;
    }

    /** The class names in {@code label_names} (top level or in pretrained_cfg), or null when it names none. */
    public static List<String> labelNames(Path json, int classes) throws IOException {
        if (json == null) return null;
        Map<?, ?> top = parse(json);
        Object names = top.get("label_names");
        if (names == null && top.get("pretrained_cfg") instanceof Map<?, ?> pre) names = pre.get("label_names");
        if (names == null) return null;
        if (!(names instanceof List<?> l) || !l.stream().allMatch(o -> o instanceof String))
            throw new IllegalArgumentException(json + ": label_names is not a list of names");
        if (l.size() != classes) throw new IllegalArgumentException(json + ": label_names has " + l.size() + " names, the model " + classes + " classes");
        return l.stream().map(o -> (String) o).toList();
    }

    /** Its settings as ViT metadata keys ("num_heads", "embed_dim", ...); errors name the file and the entry. */
    public static Map<String, String> read(Path json) throws IOException {
        Map<?, ?> top = parse(json);
        Map<String, String> m = new LinkedHashMap<>();
        Object arch = top.get("architecture");
        if (arch != null) {
            if (!(arch instanceof String name)) throw new IllegalArgumentException(json + ": \"architecture\" is not a string");
            Matcher v = VIT.matcher(name);
            if (!v.matches())
                throw new IllegalArgumentException(json + ": architecture \"" + name + "\" is not a timm ViT Fovea reads (vit_{tiny,small,base,large,huge}_patchP_S)");
            int[] size = SIZES.get(v.group(1));
            m.put("arch", "timm " + name);
            m.put("embed_dim", Integer.toString(size[0]));
            m.put("depth", Integer.toString(size[1]));
            m.put("num_heads", Integer.toString(size[2]));
            m.put("patch_size", v.group(2));
            m.put("img_size", v.group(3));
        }
        put(json, m, "num_classes", top.get("num_classes"));
        put(json, m, "global_pool", top.get("global_pool"));
        if (top.get("pretrained_cfg") instanceof Map<?, ?> pre && pre.get("input_size") instanceof List<?> in) {
            if (in.size() != 3) throw new IllegalArgumentException(json + ": pretrained_cfg.input_size must be [channels, height, width], got " + in);
            put(json, m, "in_chans", in.get(0));
            put(json, m, "img_size", in.get(1));
        }
        if (top.get("model_args") instanceof Map<?, ?> args)
            for (String k : List.of("img_size", "patch_size", "in_chans", "num_classes", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias",
                    "class_token", "global_pool"))
                put(json, m, k, args.get(k));
        return m;
    }

    private static void put(Path json, Map<String, String> m, String key, Object v) {
        if (v == null) return;
        if (v instanceof Number n) m.put(key, n.doubleValue() == Math.rint(n.doubleValue()) && !key.equals("mlp_ratio") ? Long.toString(n.longValue()) : n.toString());
        else if (v instanceof Boolean || v instanceof String) m.put(key, v.toString());
        else if (v instanceof List<?> l && l.size() == 2 && key.equals("img_size")) m.put(key, l.get(0).toString().replaceAll("\\.0$", ""));
        else throw new IllegalArgumentException(json + ": \"" + key + "\" is " + v + ", not a number, string or boolean");
    }
}
