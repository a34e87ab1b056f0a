package dev.fovea.cli;

import dev.fovea.data.Images;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Images as planar float channels [C, H, W] in 0..255, and PNGs written without losing a file. */
final class ImageFiles {
    private ImageFiles() {}

    record Planes(int channels, int height, int width, float[] data) {}

    /** Planes of {@code img}: its own channels, 1 for a grey image, else R, G, B ({@link Images#pixels}), in 0..255. */
    static Planes planes(BufferedImage img) {
        int c = Images.isGrey(img) ? 1 : 3;
        byte[] px = Images.pixels(img, c);
        float[] d = new float[px.length];
        for (int i = 0; i < d.length; i++) d[i] = px[i] & 0xff;
        return new Planes(c, img.getHeight(), img.getWidth(), d);
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
     * Refuses, before any work, to replace a file the user already has without being asked: the error names it and
     * the ways on.
     */
    static void refuseToReplace(Path file, boolean overwrite) {
        if (!overwrite && Files.exists(file)) throw new IllegalArgumentException(file + " exists; pass --overwrite to replace it, or another --out");
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
