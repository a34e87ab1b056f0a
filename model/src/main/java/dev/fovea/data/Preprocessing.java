package dev.fovea.data;


import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How an image becomes a model's input, as timm's evaluation transform does it ({@code resolve_data_config} +
 * {@code create_transform}): convert to the model's channels (Pillow's "L" or "RGB"); resize so that the shorter side
 * is {@code floor(size / cropPct)}, keeping the aspect ratio, with Pillow's antialiased filter ({@link Resample});
 * take the centre {@code size × size}; scale to [0, 1]; subtract {@code mean} and divide by {@code std} per channel;
 * lay out as [C, H, W]. (Models here take square inputs; timm's path for others, ResizeKeepRatio, is not built.) Fovea's own models add one step timm does not have: a model trained on light objects on a dark
 * background (Fashion-MNIST) inverts an image whose border is light on average ({@link Invert#AUTO}).
 *
 * <p>A checkpoint records its preprocessing in its metadata ({@link #toMetadata}); a timm folder's {@code config.json}
 * gives its {@code pretrained_cfg}. Immutable and safe to share between threads.
 *
 * @param cropPct the fraction of the resized image's shorter side that the crop keeps (timm's crop_pct; 1: no margin)
 */
public record Preprocessing(int channels, int height, int width, float[] mean, float[] std, Resample.Filter interpolation, double cropPct,
                            Invert invert) {
    /** Whether light-bordered images are inverted: AUTO (when the border's mean is above mid-grey), ALWAYS or NEVER. */
    public enum Invert {
        AUTO, ALWAYS, NEVER;

        /** "auto", "yes"/"always" or "no"/"never". */
        public static Invert parse(String s) {
            return switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "yes", "always" -> ALWAYS;
                case "no", "never" -> NEVER;
                default -> throw new IllegalArgumentException("invert must be auto, yes or no, got \"" + s + "\"");
            };
        }
    }

    /** timm's defaults for what a pretrained_cfg leaves out (IMAGENET_DEFAULT_MEAN/STD, DEFAULT_CROP_PCT, bicubic). */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f}, IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    public static final double TIMM_CROP_PCT = 0.875;

    public Preprocessing {
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("preprocessing: models take 1 (grey) or 3 (RGB) channels, not " + channels);
        if (height < 1 || height != width) throw new IllegalArgumentException("preprocessing: models take square inputs, not " + height + "x" + width);
        if (mean.length != channels || std.length != channels)
            throw new IllegalArgumentException("preprocessing: " + channels + " channels need as many means and deviations, got " + mean.length + " and " + std.length);
        for (float s : std) if (!(s > 0) || Float.isInfinite(s)) throw new IllegalArgumentException("preprocessing: std " + Arrays.toString(std) + " must be finite and > 0");
        for (float m : mean) if (!Float.isFinite(m)) throw new IllegalArgumentException("preprocessing: mean " + Arrays.toString(mean) + " must be finite");
        if (!(cropPct > 0 && cropPct <= 1)) throw new IllegalArgumentException("preprocessing: crop_pct must be in (0, 1], got " + cropPct);
        mean = mean.clone();
        std = std.clone();
    }

    /** One mean and deviation for every channel (Fovea's own models are normalised by the training pixels' statistics). */
    public static Preprocessing uniform(int channels, int size, float mean, float std, Invert invert) {
        float[] m = new float[channels], s = new float[channels];
        Arrays.fill(m, mean);
        Arrays.fill(s, std);
        return new Preprocessing(channels, size, size, m, s, Resample.Filter.BICUBIC, 1.0, invert);
    }

    @Override public float[] mean() { return mean.clone(); }
    @Override public float[] std() { return std.clone(); }

    public Preprocessing withInvert(Invert i) { return new Preprocessing(channels, height, width, mean, std, interpolation, cropPct, i); }

    /** "CxHxW": the input's shape, for messages. */
    public String shape() { return channels + "x" + height + "x" + width; }

    /** Values per image: C·H·W. */
    public int size() { return channels * height * width; }

    /**
     * One image as the model takes it.
     *
     * @param input  [C, H, W] normalised
     * @param pixels [C, H, W] the 8-bit samples before normalisation (inverted if it was): what the model sees, for drawing
     * @param notes  what was converted ("colour to grey", "resized 640x480 to 37x28", ...), empty when nothing was
     */
    public record Input(float[] input, byte[] pixels, List<String> notes) {}

    public Input prepare(BufferedImage image) {
        List<String> notes = new ArrayList<>();
        int h = image.getHeight(), w = image.getWidth();
        if (channels == 1 && !Images.isGrey(image)) notes.add("colour to grey");
        if (channels == 3 && image.getColorModel().getNumColorComponents() == 1) notes.add("grey to RGB");
        byte[] px = Images.pixels(image, channels);
        // timm (torchvision's Resize(int)): the shorter side to floor(size / crop_pct), the longer in proportion
        int scale = (int) Math.floor(height / cropPct), newH, newW;
        if (w <= h) { newW = scale; newH = (int) ((double) scale * h / w); }
        else { newH = scale; newW = (int) ((double) scale * w / h); }
        if (newH != h || newW != w) {
            notes.add("resized " + w + "x" + h + " to " + newW + "x" + newH + " (" + interpolation.id() + ")");
            px = Resample.resize(px, channels, h, w, newH, newW, interpolation);
        }
        if (newH != height || newW != width) {
            notes.add("centre " + width + "x" + height + " cropped");
            px = centreCrop(px, channels, newH, newW, height, width);
        }
        boolean inv = invert == Invert.ALWAYS || invert == Invert.AUTO && borderMean(px) > 127;
        if (inv) {
            notes.add("inverted (light background)");
            for (int i = 0; i < px.length; i++) px[i] = (byte) (255 - (px[i] & 0xff));
        }
        return new Input(normalise(px), px, List.copyOf(notes));
    }

    /** 8-bit samples [C, H, W] of the model's size scaled to [0, 1] and normalised: what ToTensor and Normalize compute, in float. */
    public float[] normalise(byte[] px) {
        if (px.length != size()) throw new IllegalArgumentException("preprocessing: " + px.length + " samples are not " + channels + "x" + height + "x" + width);
        float[] x = new float[px.length];
        int plane = height * width;
        for (int i = 0; i < x.length; i++) {
            int c = i / plane;
            x[i] = ((px[i] & 0xff) / 255f - mean[c]) / std[c];
        }
        return x;
    }

    /**
     * torchvision's CenterCrop: the offset rounds half to even (Python's round); an image smaller than the crop is
     * padded with zeros first, the odd pixel after it.
     */
    static byte[] centreCrop(byte[] px, int c, int h, int w, int ch, int cw) {
        int top = ch > h ? -((ch - h) / 2) : (int) Math.rint((h - ch) / 2.0);
        int left = cw > w ? -((cw - w) / 2) : (int) Math.rint((w - cw) / 2.0);
        byte[] out = new byte[c * ch * cw];
        for (int k = 0; k < c; k++)
            for (int y = 0; y < ch; y++) {
                int sy = y + top;
                if (sy < 0 || sy >= h) continue;
                for (int x = 0; x < cw; x++) {
                    int sx = x + left;
                    if (sx >= 0 && sx < w) out[(k * ch + y) * cw + x] = px[(k * h + sy) * w + sx];
                }
            }
        return out;
    }

    /** The mean sample of the outermost ring of pixels, over all channels. */
    private double borderMean(byte[] px) {
        double s = 0;
        long n = 0;
        int plane = height * width;
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    if (y == 0 || y == height - 1 || x == 0 || x == width - 1) {
                        s += px[c * plane + y * width + x] & 0xff;
                        n++;
                    }
        return s / n;
    }

    // ---------------------------------------------------------------- metadata

    static final String PREFIX = "preprocess.";

    /** The keys a checkpoint records: preprocess.input_size "C,H,W", .mean, .std (comma-separated), .interpolation, .crop_pct, .invert. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(PREFIX + "input_size", channels + "," + height + "," + width);
        m.put(PREFIX + "mean", join(mean));
        m.put(PREFIX + "std", join(std));
        m.put(PREFIX + "interpolation", interpolation.id());
        m.put(PREFIX + "crop_pct", Double.toString(cropPct));
        m.put(PREFIX + "invert", invert.name().toLowerCase(Locale.ROOT));
        return m;
    }

    /** True when the metadata holds preprocessing keys. */
    public static boolean recorded(Map<String, String> m) { return m.containsKey(PREFIX + "input_size"); }

    /** The preprocessing a checkpoint records; a missing or malformed key is an error naming {@code source} and the key. */
    public static Preprocessing fromMetadata(String source, Map<String, String> m) {
        try {
            int[] in = ints(need(source, m, "input_size"));
            if (in.length != 3) throw new IllegalArgumentException("input_size must be C,H,W");
            float[] mean = floats(need(source, m, "mean")), std = floats(need(source, m, "std"));
            return new Preprocessing(in[0], in[1], in[2], mean, std, Resample.Filter.parse(need(source, m, "interpolation")),
                    Double.parseDouble(need(source, m, "crop_pct")), Invert.parse(need(source, m, "invert")));
        } catch (IllegalArgumentException e) {
            String msg = e instanceof NumberFormatException ? "not a number: " + e.getMessage() : e.getMessage();
            throw new IllegalArgumentException(msg.startsWith(source) ? msg : source + ": bad preprocessing metadata: " + msg);
        }
    }

    private static String need(String source, Map<String, String> m, String key) {
        String v = m.get(PREFIX + key);
        if (v == null) throw new IllegalArgumentException(source + ": the metadata lacks \"" + PREFIX + key + "\"");
        return v;
    }

    private static String join(float[] v) {
        StringBuilder sb = new StringBuilder();
        for (float f : v) sb.append(sb.isEmpty() ? "" : ",").append(f);
        return sb.toString();
    }

    private static int[] ints(String s) { return Arrays.stream(s.split(",")).mapToInt(t -> Integer.parseInt(t.strip())).toArray(); }

    private static float[] floats(String s) {
        String[] t = s.split(",");
        float[] v = new float[t.length];
        for (int i = 0; i < t.length; i++) v[i] = Float.parseFloat(t[i].strip());
        return v;
    }

    @Override public String toString() {
        return String.format(Locale.ROOT, "%dx%dx%d, %s, crop %.3f, mean %s, std %s%s", channels, height, width, interpolation.id(), cropPct,
                Arrays.toString(mean), Arrays.toString(std), invert == Invert.NEVER ? "" : ", invert " + invert.name().toLowerCase(Locale.ROOT));
    }

    @Override public boolean equals(Object o) {
        return o instanceof Preprocessing p && p.channels == channels && p.height == height && p.width == width && Arrays.equals(p.mean, mean)
                && Arrays.equals(p.std, std) && p.interpolation == interpolation && p.cropPct == cropPct && p.invert == invert;
    }

    @Override public int hashCode() { return Arrays.hashCode(mean) * 31 + Arrays.hashCode(std) + channels + height * 7 + width * 13; }
}
