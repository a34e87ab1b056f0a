package dev.fovea.spark;

import org.apache.spark.sql.Row;

import java.awt.image.BufferedImage;
import java.io.IOException;

/** Spark's {@code image} source rows as images: OpenCV's layout, 8-bit B, G, R (and A) interleaved, row-major. */
final class SparkImages {
    private SparkImages() {}

    static BufferedImage toImage(Row image) throws IOException {
        String origin = image.getAs("origin");
        int h = image.<Integer>getAs("height"), w = image.<Integer>getAs("width"), c = image.<Integer>getAs("nChannels");
        byte[] data = image.getAs("data");
        if (h < 1 || w < 1 || data == null || data.length != (long) h * w * c || c != 1 && c != 3 && c != 4)
            throw new IOException(origin + ": an image row of " + w + "x" + h + "x" + c + " with " + (data == null ? 0 : data.length) + " bytes (the image source"
                    + " gives an empty row for a file it cannot decode)");
        if (c == 1) {
            BufferedImage grey = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            grey.getRaster().setDataElements(0, 0, w, h, data);
            return grey;
        }
        BufferedImage rgb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * c;
                rgb.setRGB(x, y, (data[i + 2] & 0xff) << 16 | (data[i + 1] & 0xff) << 8 | data[i] & 0xff);
            }
        return rgb;
    }
}
