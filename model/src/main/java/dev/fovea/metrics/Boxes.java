package dev.fovea.metrics;

/** Boxes as COCO writes them, [x, y, width, height] in pixels; their overlap and the localization criterion. */
public final class Boxes {
    private Boxes() {}

    /** Area of the intersection of two boxes. */
    public static double intersection(double[] a, double[] b) {
        double w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
        double h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
        return w > 0 && h > 0 ? w * h : 0;
    }

    public static double area(double[] b) { return Math.max(0, b[2]) * Math.max(0, b[3]); }

    /** Intersection over union; 0 when both are empty. */
    public static double iou(double[] a, double[] b) {
        double i = intersection(a, b), u = area(a) + area(b) - i;
        return u > 0 ? i / u : 0;
    }

    /** Correct localization (the criterion of weakly supervised localization): the right class and IoU ≥ 0.5. */
    public static boolean correctlyLocalized(long trueClass, double[] trueBox, long predictedClass, double[] predictedBox) {
        return trueClass == predictedClass && iou(trueBox, predictedBox) >= 0.5;
    }

    /** Intersection over union of two masks of the same size (non-zero = inside); 0 when both are empty. */
    public static double maskIou(byte[] a, byte[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("mask IoU: masks of " + a.length + " and " + b.length + " pixels");
        long inter = 0, union = 0;
        for (int i = 0; i < a.length; i++) {
            boolean x = a[i] != 0, y = b[i] != 0;
            if (x && y) inter++;
            if (x || y) union++;
        }
        return union > 0 ? (double) inter / union : 0;
    }

    /** Pixels inside a mask. */
    public static long maskArea(byte[] m) {
        long a = 0;
        for (byte v : m) if (v != 0) a++;
        return a;
    }

    /**
     * Greedy non-maximum suppression: the indices of the boxes kept, best score first; a box is dropped when it
     * overlaps a kept one by more than {@code iouThreshold}. Ties in score keep the lower index first.
     */
    public static int[] nms(double[][] boxes, double[] scores, double iouThreshold) {
        if (boxes.length != scores.length) throw new IllegalArgumentException("nms: " + boxes.length + " boxes but " + scores.length + " scores");
        Integer[] order = new Integer[boxes.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(scores[b], scores[a]));
        int[] kept = new int[boxes.length];
        int n = 0;
        for (int i : order) {
            boolean keep = true;
            for (int k = 0; k < n && keep; k++) keep = iou(boxes[i], boxes[kept[k]]) <= iouThreshold;
            if (keep) kept[n++] = i;
        }
        return java.util.Arrays.copyOf(kept, n);
    }
}
