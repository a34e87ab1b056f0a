package dev.fovea.data;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Image files decoded, and images as 8-bit planes [C, H, W] converted the way Pillow's {@code Image.convert} does. */
public final class Images {
    private Images() {}

    /** The most pixels an image may have: its size is read from the header and checked before it is decoded. */
    public static final long MAX_PIXELS = 50_000_000L;

    /** A PNG, JPEG, GIF or BMP file; errors name the file and what is wrong with it. */
    public static BufferedImage read(Path p) throws IOException {
        if (!Files.isRegularFile(p)) throw new NoSuchFileException(p + " (no such image file)");
        try (ImageInputStream in = ImageIO.createImageInputStream(p.toFile())) {
            return decode(in, p.toString());
        }
    }

    /** An encoded image held in memory (a Spark binaryFile row's content, say); errors name {@code source}. */
    public static BufferedImage decode(byte[] bytes, String source) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            return decode(in, source);
        }
    }

    private static BufferedImage decode(ImageInputStream in, String source) throws IOException {
        var readers = in == null ? null : ImageIO.getImageReaders(in);
        if (readers == null || !readers.hasNext()) throw new IOException(source + ": unreadable image (not a PNG, JPEG, GIF or BMP this JVM can decode)");
        ImageReader reader = readers.next();
        try {
            reader.setInput(in, true, true);
            long w = reader.getWidth(0), h = reader.getHeight(0);
            if (w * h > MAX_PIXELS)
                throw new IOException(source + ": " + w + "x" + h + " pixels is more than the " + MAX_PIXELS + " an image may have here; scale it down first");
            BufferedImage img = reader.read(0);
            if (img == null) throw new IOException(source + ": unreadable image");
            return img;
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(source)) throw e;
            throw new IOException(source + ": unreadable image: " + e.getMessage(), e);
        } catch (RuntimeException | OutOfMemoryError e) {
            throw new IOException(source + ": unreadable image: " + e, e);
        } finally {
            reader.dispose();
        }
    }

    /** True when every pixel has equal red, green and blue (or the image has one colour component). */
    public static boolean isGrey(BufferedImage img) {
        if (img.getColorModel().getNumColorComponents() == 1) return true;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y), r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;
                if (r != g || g != b) return false;
            }
        return true;
    }

    /**
     * The image as {@code channels} 8-bit planes [C, H, W]: 1 is Pillow's "L" (luminance with ITU-R BT.601 weights
     * in its fixed point), 3 is "RGB" (a grey image's samples in all three); alpha is dropped, as {@code convert}
     * drops it. A grey image's own samples are read as they are: getRGB would pass them through Java's linear-grey to
     * sRGB conversion (128 would read as 188).
     */
    public static byte[] pixels(BufferedImage img, int channels) {
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("images have 1 (grey) or 3 (RGB) channels, not " + channels);
        int h = img.getHeight(), w = img.getWidth(), n = h * w;
        byte[] d = new byte[channels * n];
        var raster = img.getRaster();
        if (raster.getNumBands() == 1 && img.getColorModel().getNumColorComponents() == 1 && img.getColorModel().getPixelSize() <= 16) {
            boolean wide = img.getColorModel().getPixelSize() == 16;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int s = raster.getSample(x, y, 0);
                    byte v = (byte) (wide ? (s + 128) / 257 : s);
                    for (int c = 0; c < channels; c++) d[c * n + y * w + x] = v;
                }
            return d;
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y), r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff, i = y * w + x;
                if (channels == 1) d[i] = (byte) ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
                else { d[i] = (byte) r; d[n + i] = (byte) g; d[2 * n + i] = (byte) b; }
            }
        return d;
    }
}
