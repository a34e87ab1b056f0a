package dev.fovea.metrics;

/**
 * Semantic segmentation's mean IoU: a confusion matrix over every pixel seen (truth × prediction), each class's IoU
 * = TP / (TP + FP + FN), averaged over the classes that occur in the truth or the predictions.
 */
public final class SegmentationIoU {
    private final int classes;
    private final long[] confusion;                                       // [truth, predicted]

    public SegmentationIoU(int classes) {
        if (classes < 1) throw new IllegalArgumentException("mean IoU needs at least one class, got " + classes);
        this.classes = classes;
        this.confusion = new long[classes * classes];
    }

    /** Adds one image's labels (class per pixel, 0 ≤ label < classes). */
    public void add(int[] truth, int[] predicted) {
        if (truth.length != predicted.length)
            throw new IllegalArgumentException("mean IoU: truth has " + truth.length + " pixels, prediction " + predicted.length);
        for (int i = 0; i < truth.length; i++) {
            int t = truth[i], p = predicted[i];
            if (t < 0 || t >= classes || p < 0 || p >= classes)
                throw new IllegalArgumentException("mean IoU: pixel " + i + " has label " + (t < 0 || t >= classes ? t : p) + ", expected 0.." + (classes - 1));
            confusion[t * classes + p]++;
        }
    }

    /** IoU of class c, or NaN when it occurs nowhere. */
    public double iou(int c) {
        long tp = confusion[c * classes + c], fp = 0, fn = 0;
        for (int k = 0; k < classes; k++) {
            if (k == c) continue;
            fp += confusion[k * classes + c];
            fn += confusion[c * classes + k];
        }
        long union = tp + fp + fn;
        return union == 0 ? Double.NaN : (double) tp / union;
    }

    /** The mean over classes that occur; 0 before any pixel. */
    public double meanIoU() {
        double sum = 0;
        int n = 0;
        for (int c = 0; c < classes; c++) {
            double v = iou(c);
            if (!Double.isNaN(v)) {
                sum += v;
                n++;
            }
        }
        return n == 0 ? 0 : sum / n;
    }

    /** Fraction of pixels labelled correctly. */
    public double pixelAccuracy() {
        long right = 0, all = 0;
        for (int t = 0; t < classes; t++)
            for (int p = 0; p < classes; p++) {
                all += confusion[t * classes + p];
                if (t == p) right += confusion[t * classes + p];
            }
        return all == 0 ? 0 : (double) right / all;
    }
}
