package dev.fovea.cli;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Reading and writing images as planar float channels [C, H, W] in 0..255. */
final class ImageFiles {
    private ImageFiles() {}

    record Planes(int channels, int height, int width, float[] data) {}

    /** The most pixels an image may have: its size is read from the header and checked before it is decoded. */
    static final long MAX_PIXELS = 50_000_000L;

    static BufferedImage read(Path p) throws IOException {
        if (!Files.isRegularFile(p)) throw new NoSuchFileException(p + " (no such image file)");
        try (ImageInputStream in = ImageIO.createImageInputStream(p.toFile())) {
            var readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) throw new IOException(p + ": unreadable image (not a PNG, JPEG, GIF or BMP this JVM can decode)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long w = reader.getWidth(0), h = reader.getHeight(0);
                if (w * h > MAX_PIXELS)
                    throw new IOException(p + ": " + w + "x" + h + " pixels is more than the " + MAX_PIXELS + " an image may have here; scale it down first");
                BufferedImage img = reader.read(0);
                if (img == null) throw new IOException(p + ": unreadable image");
                return img;
            } catch (IOException e) {
                if (e.getMessage() != null && e.getMessage().startsWith(p.toString())) throw e;
                throw new IOException(p + ": unreadable image: " + e.getMessage(), e);
            } catch (RuntimeException | OutOfMemoryError e) {
                throw new IOException(p + ": unreadable image: " + e, e);
            } finally {
                reader.dispose();
            }
        }
    }

    static boolean isGrey(BufferedImage img) {
        if (img.getColorModel().getNumColorComponents() == 1) return true;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y), r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;
                if (r != g || g != b) return false;
            }
        return true;
    }

    /**
     * One plane of luminance (ITU-R BT.601 weights) or three planes R, G, B. A grey image's own samples are read
     * as they are: getRGB would pass them through Java's linear-grey to sRGB conversion (128 reads as 188).
     */
    static Planes planes(BufferedImage img, boolean grey) {
        int h = img.getHeight(), w = img.getWidth(), c = grey ? 1 : 3;
        float[] d = new float[c * h * w];
        var raster = img.getRaster();
        if (grey && raster.getNumBands() == 1 && img.getColorModel().getPixelSize() <= 16) {
            float unit = img.getColorModel().getPixelSize() == 16 ? 257f : 1f;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) d[y * w + x] = raster.getSample(x, y, 0) / unit;
            return new Planes(c, h, w, d);
        }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y), r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff, i = y * w + x;
                if (grey) d[i] = 0.299f * r + 0.587f * g + 0.114f * b;
                else { d[i] = r; d[h * w + i] = g; d[2 * h * w + i] = b; }
            }
        return new Planes(c, h, w, d);
    }

    /** Scales to width×height with bilinear interpolation. */
    static BufferedImage resize(BufferedImage img, int width, int height) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
        g.drawImage(img, 0, 0, width, height, null);
        g.dispose();
        return out;
    }

    /**
     * Writes planes (clamped to 0..255) as a grey or RGB PNG. Grey samples go into the raster as they are (setRGB
     * would convert them from sRGB to linear grey: 128 would be stored as 55).
     */
    static void writePng(Planes p, Path file) throws IOException {
        int h = p.height(), w = p.width();
        if (p.channels() == 1) {
            byte[] grey = new byte[h * w];
            for (int i = 0; i < grey.length; i++) grey[i] = (byte) clamp(p.data()[i]);
            writeGrey(grey, w, h, file);
            return;
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                int r = clamp(p.data()[i]), g = clamp(p.data()[h * w + i]), b = clamp(p.data()[2 * h * w + i]);
                img.setRGB(x, y, r << 16 | g << 8 | b);
            }
        savePng(img, file);
    }

    private static int clamp(float v) { return Math.max(0, Math.min(255, Math.round(v))); }

    /** An 8-bit grey PNG of raw samples [height, width], through the raster (no colour conversion). */
    static void writeGrey(byte[] samples, int width, int height, Path file) throws IOException {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, width, height, samples);
        savePng(img, file);
    }

    /**
     * Writes {@code img} as a PNG to a temporary file beside {@code file} and renames it, so a failure leaves neither
     * a partial image nor the temporary file; errors name the file (or its folder) and the cause.
     */
    static void savePng(BufferedImage img, Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) throw new NoSuchFileException(file + ": its folder " + dir + " does not exist");
        if (!Files.isWritable(dir)) throw new AccessDeniedException(dir.toString(), null, "cannot write " + file.getFileName() + " there");
        if (Files.isDirectory(file)) throw new IOException(file + ": is a folder; give the PNG file's path");
        Path tmp = dir.resolve("." + file.getFileName() + ".tmp");
        try {
            if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer in this JVM");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw new IOException(file + ": cannot write the image: " + e.getMessage(), e);
        }
    }
}
