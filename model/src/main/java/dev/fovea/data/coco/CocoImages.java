package dev.fovea.data.coco;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * A COCO dataset's images decoded once into memory as bytes [N, C, H, W] (C = 1 for grey images, else 3; all images
 * of one size), in the order of {@link CocoDataset#images()}. Grey samples are read from the raster as they are
 * (Java's getRGB would pass them through a linear-to-sRGB conversion).
 */
public record CocoImages(CocoDataset dataset, int channels, int height, int width, byte[] pixels) {
    public int count() { return dataset.images().size(); }

    /** Image i's pixels scaled to [0, 1] into dst[offset ...] ([C, H, W]). */
    public void unit(int i, float[] dst, int offset) {
        int n = channels * height * width, base = i * n;
        for (int k = 0; k < n; k++) dst[offset + k] = (pixels[base + k] & 0xff) / 255f;
    }

    /** Mean and standard deviation of all pixels in [0, 1]: the normalisation a model trained on these images uses. */
    public float[] pixelStats() {
        double s = 0, sq = 0;
        for (byte b : pixels) {
            double v = (b & 0xff) / 255.0;
            s += v;
            sq += v * v;
        }
        double mean = s / pixels.length, var = Math.max(1e-12, sq / pixels.length - mean * mean);
        return new float[]{(float) mean, (float) Math.sqrt(var)};
    }

    /** Decodes every image; each must exist, decode, and have the width and height its JSON entry gives. */
    public static CocoImages load(CocoDataset coco) throws IOException {
        List<CocoDataset.Image> images = coco.images();
        if (images.isEmpty()) throw new IllegalArgumentException(coco.annotationsFile() + ": no images");
        int h = images.getFirst().height(), w = images.getFirst().width(), c = -1;
        byte[] pixels = null;
        for (int i = 0; i < images.size(); i++) {
            CocoDataset.Image im = images.get(i);
            if (im.height() != h || im.width() != w)
                throw new IllegalArgumentException(coco.annotationsFile() + ": image " + im.id() + " is " + im.width() + "x" + im.height()
                        + ", the first is " + w + "x" + h + " (one size per dataset)");
            Path file = coco.imagePath(im);
            if (!Files.isRegularFile(file)) throw new NoSuchFileException(file + " (image " + im.id() + " of " + coco.annotationsFile() + ")");
            BufferedImage img = ImageIO.read(file.toFile());
            if (img == null) throw new IOException(file + ": not an image this JVM can decode");
            if (img.getWidth() != w || img.getHeight() != h)
                throw new IllegalArgumentException(file + ": " + img.getWidth() + "x" + img.getHeight() + " pixels, but " + coco.annotationsFile()
                        + " says image " + im.id() + " is " + w + "x" + h);
            boolean grey = img.getRaster().getNumBands() == 1 && img.getColorModel().getPixelSize() == 8;
            if (c < 0) {
                c = grey ? 1 : 3;
                pixels = new byte[images.size() * c * h * w];
            }
            int base = i * c * h * w;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    if (grey) {
                        byte v = (byte) img.getRaster().getSample(x, y, 0);
                        for (int ch = 0; ch < c; ch++) pixels[base + ch * h * w + y * w + x] = v;
                        continue;
                    }
                    int rgb = img.getRGB(x, y);
                    if (c == 1) {
                        pixels[base + y * w + x] = (byte) Math.round(0.299f * (rgb >> 16 & 0xff) + 0.587f * (rgb >> 8 & 0xff) + 0.114f * (rgb & 0xff));
                    } else {
                        pixels[base + y * w + x] = (byte) (rgb >> 16);
                        pixels[base + h * w + y * w + x] = (byte) (rgb >> 8);
                        pixels[base + 2 * h * w + y * w + x] = (byte) rgb;
                    }
                }
        }
        return new CocoImages(coco, c, h, w, pixels);
    }
}
