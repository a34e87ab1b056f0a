package dev.fovea.data.coco;

import java.util.List;

/**
 * Rasterizes COCO polygon segmentations ([x1, y1, x2, y2, ...] in pixel coordinates, several polygons per object):
 * a pixel is inside when its centre is, by the even-odd rule. pycocotools draws boundaries its own way (it walks
 * the upsampled outline), so masks can differ from its by a pixel along the edge.
 */
public final class Polygons {
    private Polygons() {}

    /** Row-major mask [height, width], 1 inside any of the polygons. */
    public static byte[] rasterize(List<double[]> polygons, int height, int width) {
        byte[] m = new byte[height * width];
        for (double[] poly : polygons) {
            if (poly.length < 6 || poly.length % 2 != 0)
                throw new IllegalArgumentException("polygon needs an even number (>= 6) of coordinates, got " + poly.length);
            int n = poly.length / 2;
            for (int y = 0; y < height; y++) {
                double cy = y + 0.5;
                for (int x = 0; x < width; x++) {
                    double cx = x + 0.5;
                    boolean in = false;
                    for (int i = 0, j = n - 1; i < n; j = i++) {
                        double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
                        if ((yi > cy) != (yj > cy) && cx < (xj - xi) * (cy - yi) / (yj - yi) + xi) in = !in;
                    }
                    if (in) m[y * width + x] = 1;
                }
            }
        }
        return m;
    }
}
