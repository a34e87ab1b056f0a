package dev.fovea.models;

import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Act;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A Vision Transformer's shape, with timm's names for the fields (the keys of {@code shared/fixtures} metadata).
 *
 * @param globalPool "token" (the class token's output) or "avg" (the mean of the patch tokens)
 */
public record ViTConfig(int imgSize, int patchSize, int inChans, int numClasses, int embedDim, int depth, int numHeads,
                        float mlpRatio, boolean qkvBias, boolean classToken, String globalPool, float eps, Act.Kind act) {
    public ViTConfig {
        if (patchSize < 1 || imgSize % patchSize != 0)
            throw new IllegalArgumentException("vit: image size " + imgSize + " is not a multiple of the patch size " + patchSize);
        if (numHeads < 1 || embedDim % numHeads != 0)
            throw new IllegalArgumentException("vit: width " + embedDim + " is not divisible by " + numHeads + " heads");
        if (!globalPool.equals("token") && !globalPool.equals("avg"))
            throw new IllegalArgumentException("vit: global pool must be token or avg, got '" + globalPool + "'");
        if (globalPool.equals("token") && !classToken) throw new IllegalArgumentException("vit: token pooling needs a class token");
        if (act != Act.Kind.GELU && act != Act.Kind.GELU_TANH) throw new IllegalArgumentException("vit: MLP activation must be GELU (erf or tanh), got " + act);
    }

    public int gridSize() { return imgSize / patchSize; }
    public int patches() { return gridSize() * gridSize(); }
    public int tokens() { return patches() + (classToken ? 1 : 0); }

    /** timm's vit_{tiny,small,base}_patch16_224. */
    public static ViTConfig preset(String name) {
        return switch (name) {
            case "vit_tiny_patch16_224" -> new ViTConfig(224, 16, 3, 1000, 192, 12, 3, 4f, true, true, "token", 1e-6f, Act.Kind.GELU);
            case "vit_small_patch16_224" -> new ViTConfig(224, 16, 3, 1000, 384, 12, 6, 4f, true, true, "token", 1e-6f, Act.Kind.GELU);
            case "vit_base_patch16_224" -> new ViTConfig(224, 16, 3, 1000, 768, 12, 12, 4f, true, true, "token", 1e-6f, Act.Kind.GELU);
            default -> throw new IllegalArgumentException("unknown ViT preset '" + name + "', expected vit_tiny_patch16_224, vit_small_patch16_224 or vit_base_patch16_224");
        };
    }

    /** Metadata as the fixtures write it. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("arch", "timm.VisionTransformer");
        m.put("img_size", Integer.toString(imgSize));
        m.put("patch_size", Integer.toString(patchSize));
        m.put("in_chans", Integer.toString(inChans));
        m.put("num_classes", Integer.toString(numClasses));
        m.put("embed_dim", Integer.toString(embedDim));
        m.put("depth", Integer.toString(depth));
        m.put("num_heads", Integer.toString(numHeads));
        m.put("mlp_ratio", Float.toString(mlpRatio));
        m.put("qkv_bias", qkvBias ? "True" : "False");
        m.put("class_token", classToken ? "True" : "False");
        m.put("global_pool", globalPool);
        m.put("norm", "LayerNorm eps=" + eps);
        m.put("act", act == Act.Kind.GELU ? "GELU (erf)" : "GELU (tanh)");
        return m;
    }

    /**
     * Reads the fixture metadata keys; a key that is absent takes timm's default (a timm preset name in "arch" gives
     * the preset's values first).
     */
    public static ViTConfig fromMetadata(String source, Map<String, String> m) {
        String arch = m.getOrDefault("arch", "");
        ViTConfig base = arch.matches("timm vit_(tiny|small|base)_patch16_224") ? preset(arch.substring(5))
                : new ViTConfig(224, 16, 3, 1000, 768, 12, 12, 4f, true, true, "token", 1e-6f, Act.Kind.GELU);
        try {
            String norm = m.getOrDefault("norm", "LayerNorm eps=" + base.eps);
            java.util.regex.Matcher eps = java.util.regex.Pattern.compile("eps=([0-9.eE+-]+)").matcher(norm);
            String act = m.getOrDefault("act", "GELU (erf)").toLowerCase(Locale.ROOT);
            return new ViTConfig(
                    Integer.parseInt(m.getOrDefault("img_size", Integer.toString(base.imgSize))),
                    Integer.parseInt(m.getOrDefault("patch_size", Integer.toString(base.patchSize))),
                    Integer.parseInt(m.getOrDefault("in_chans", Integer.toString(base.inChans))),
                    Integer.parseInt(m.getOrDefault("num_classes", Integer.toString(base.numClasses))),
                    Integer.parseInt(m.getOrDefault("embed_dim", Integer.toString(base.embedDim))),
                    Integer.parseInt(m.getOrDefault("depth", Integer.toString(base.depth))),
                    Integer.parseInt(m.getOrDefault("num_heads", Integer.toString(base.numHeads))),
                    Float.parseFloat(m.getOrDefault("mlp_ratio", Float.toString(base.mlpRatio))),
                    bool(m.getOrDefault("qkv_bias", Boolean.toString(base.qkvBias))),
                    bool(m.getOrDefault("class_token", Boolean.toString(base.classToken))),
                    m.getOrDefault("global_pool", base.globalPool),
                    eps.find() ? Float.parseFloat(eps.group(1)) : base.eps,
                    act.contains("tanh") ? Act.Kind.GELU_TANH : Act.Kind.GELU);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": bad number in the ViT metadata: " + e.getMessage());
        }
    }

    private static boolean bool(String s) { return s.equalsIgnoreCase("true"); }

    /** The shape of tensor {@code name}, which must have {@code rank} dimensions ({@code what} says which). */
    static int[] shape(SafetensorsFile f, String name, int rank, String what) {
        int[] s = f.entry(name).shape();
        if (s.length != rank)
            throw new IllegalArgumentException(f.path() + ": " + name + " has shape " + dev.fovea.tensor.Shape.str(s) + ", expected " + rank + " dimensions " + what);
        return s;
    }

    /**
     * A ViT's config from a timm checkpoint or fixture: the tensors' shapes for what they tell (width, depth, patch,
     * channels, classes, MLP ratio, qkv bias, class token, average pooling, the position grid), and for the rest
     * (heads, eps, activation, token pooling) the file's metadata, completed by a timm/Hugging Face
     * {@code config.json} beside it ({@link TimmConfig}). A head count known from neither is refused: the tensors
     * cannot tell it, and a guess would give wrong answers.
     */
    public static ViTConfig fromFile(SafetensorsFile f) {
        Map<String, String> meta = new LinkedHashMap<>(f.metadata());
        Path json = TimmConfig.beside(f.path());
        String source = f.path().toString();
        if (json != null) {
            try {
                TimmConfig.read(json).forEach(meta::putIfAbsent);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(json + ": " + e.getMessage(), e);
            }
            source = f.path() + " with " + json;
        }
        if (!meta.containsKey("num_heads") && !meta.getOrDefault("arch", "").matches("timm vit_(tiny|small|base)_patch16_224"))
            throw new IllegalArgumentException(f.path() + ": the number of attention heads is in neither its metadata (\"num_heads\"), a config.json"
                    + " beside it (its \"architecture\" or model_args.num_heads) nor a known \"arch\", and the tensors cannot tell it; a guess would"
                    + " give wrong answers");
        if (!f.contains("patch_embed.proj.weight") || !f.contains("head.weight"))
            throw new IllegalArgumentException(f.path() + ": a ViT needs patch_embed.proj.weight and head.weight");
        int[] pe = shape(f, "patch_embed.proj.weight", 4, "[D, C, P, P]"), hd = shape(f, "head.weight", 2, "[classes, D]");
        // what the tensors tell wins over what the metadata says
        meta.put("embed_dim", Integer.toString(pe[0]));
        meta.put("in_chans", Integer.toString(pe[1]));
        meta.put("patch_size", Integer.toString(pe[2]));
        meta.put("num_classes", Integer.toString(hd[0]));
        // the image size: from a fixture's input, else from the position embeddings (a square grid)
        if (f.contains("io.input")) meta.put("img_size", Integer.toString(shape(f, "io.input", 4, "[B, C, H, W]")[2]));
        else if (f.contains("pos_embed")) {
            int tokens = shape(f, "pos_embed", 3, "[1, T, D]")[1] - (f.contains("cls_token") ? 1 : 0);
            meta.put("img_size", Integer.toString((int) Math.round(Math.sqrt(tokens)) * pe[2]));
        }
        int depth = 0;
        while (f.contains("blocks." + depth + ".norm1.weight")) depth++;
        meta.put("depth", Integer.toString(depth));
        if (f.contains("blocks.0.mlp.fc1.weight"))
            meta.put("mlp_ratio", Float.toString((float) shape(f, "blocks.0.mlp.fc1.weight", 2, "[hidden, D]")[0] / pe[0]));
        meta.put("qkv_bias", Boolean.toString(f.contains("blocks.0.attn.qkv.bias")));
        meta.put("class_token", Boolean.toString(f.contains("cls_token")));
        if (f.contains("fc_norm.weight")) meta.put("global_pool", "avg");
        try {
            return fromMetadata(source, meta);
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(source) ? e : new IllegalArgumentException(source + ": " + e.getMessage());
        }
    }

}
