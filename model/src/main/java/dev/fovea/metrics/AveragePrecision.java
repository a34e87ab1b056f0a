package dev.fovea.metrics;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Average precision as COCO defines it (pycocotools' {@code COCOeval}, area range "all"): per image and category
 * the detections, best score first and at most {@code maxDets} of them, are matched greedily to the unmatched
 * ground truth they overlap most (IoU at least the threshold); a detection matched to a crowd region is ignored,
 * as is a crowd region itself, and a crowd region's overlap is intersection over the detection's area. Per category,
 * precision is made monotone and read at the 101 recall points 0, 0.01, …, 1 (0 past the highest recall reached);
 * AP at a threshold is their mean, averaged over the categories that have ground truth. AP is the mean over the
 * thresholds 0.50, 0.55, …, 0.95; AP50 the value at 0.50. Boxes or masks ({@link Kind}).
 */
public final class AveragePrecision {
    private AveragePrecision() {}

    public enum Kind { BOX, MASK }

    /** A ground-truth object; {@code mask} row-major over its image (null for box evaluation). */
    public record Truth(long image, long category, double[] box, byte[] mask, boolean crowd) {}

    /** A detection with its confidence. */
    public record Detection(long image, long category, double[] box, byte[] mask, double score) {}

    /** AP over IoU 0.50:0.95, AP at 0.50 and 0.75, and AP over 0.50:0.95 per category (categories without ground truth absent). */
    public record Result(double ap, double ap50, double ap75, Map<Long, Double> perCategory) {}

    public static final double[] IOU_THRESHOLDS = {0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95};

    public static Result evaluate(List<Truth> truths, List<Detection> detections, Kind kind, int maxDets) {
        Map<Long, Map<Long, List<Truth>>> gt = new HashMap<>();         // category -> image -> truths
        Map<Long, Map<Long, List<Detection>>> dt = new HashMap<>();
        TreeSet<Long> categories = new TreeSet<>();
        for (Truth t : truths) {
            gt.computeIfAbsent(t.category(), k -> new HashMap<>()).computeIfAbsent(t.image(), k -> new ArrayList<>()).add(t);
            categories.add(t.category());
        }
        for (Detection d : detections)
            dt.computeIfAbsent(d.category(), k -> new HashMap<>()).computeIfAbsent(d.image(), k -> new ArrayList<>()).add(d);
        int nt = IOU_THRESHOLDS.length;
        double[] sum = new double[nt];
        int counted = 0;
        Map<Long, Double> perCategory = new LinkedHashMap<>();
        for (long cat : categories) {
            Map<Long, List<Truth>> gtc = gt.get(cat);
            Map<Long, List<Detection>> dtc = dt.getOrDefault(cat, Map.of());
            List<Scored> scored = new ArrayList<>();
            int notIgnored = 0;
            // images in id order, as COCOeval concatenates them (it matters for tied scores); an image with
            // detections but no ground truth of this category gives false positives
            TreeSet<Long> images = new TreeSet<>(gtc.keySet());
            images.addAll(dtc.keySet());
            for (long image : images) {
                List<Truth> g = new ArrayList<>(gtc.getOrDefault(image, List.of()));
                g.sort(Comparator.comparing(Truth::crowd));               // crowd regions last, as COCOeval orders them
                for (Truth t : g) if (!t.crowd()) notIgnored++;
                List<Detection> d = new ArrayList<>(dtc.getOrDefault(image, List.of()));
                d.sort(Comparator.comparingDouble(Detection::score).reversed());
                if (d.size() > maxDets) d = d.subList(0, maxDets);
                match(g, d, kind, scored);
            }
            if (notIgnored == 0) continue;
            // a stable sort by score over all images, as COCOeval's mergesort
            scored.sort(Comparator.comparingDouble(Scored::score).reversed());
            double catSum = 0;
            for (int ti = 0; ti < nt; ti++) {
                double ap = interpolatedAp(scored, ti, notIgnored);
                sum[ti] += ap;
                catSum += ap;
            }
            perCategory.put(cat, catSum / nt);
            counted++;
        }
        if (counted == 0) return new Result(0, 0, 0, perCategory);
        double all = 0;
        for (double v : sum) all += v;
        return new Result(all / (nt * counted), sum[0] / counted, sum[5] / counted, perCategory);
    }

    /** A detection's outcome at each threshold: matched (a true positive unless ignored), ignored. */
    private record Scored(double score, boolean[] matched, boolean[] ignored) {}

    /** COCOeval.evaluateImg's greedy matching for one image and category. */
    private static void match(List<Truth> g, List<Detection> d, Kind kind, List<Scored> out) {
        int nt = IOU_THRESHOLDS.length;
        double[][] iou = new double[d.size()][g.size()];
        for (int i = 0; i < d.size(); i++)
            for (int j = 0; j < g.size(); j++) iou[i][j] = overlap(d.get(i), g.get(j), kind);
        boolean[][] gtMatched = new boolean[nt][g.size()];
        for (int i = 0; i < d.size(); i++) {
            boolean[] matched = new boolean[nt], ignored = new boolean[nt];
            for (int ti = 0; ti < nt; ti++) {
                double best = Math.min(IOU_THRESHOLDS[ti], 1 - 1e-10);
                int m = -1;
                for (int j = 0; j < g.size(); j++) {
                    if (gtMatched[ti][j] && !g.get(j).crowd()) continue;
                    // matched to a real object already: stop before the crowd regions (sorted last)
                    if (m > -1 && !g.get(m).crowd() && g.get(j).crowd()) break;
                    if (iou[i][j] < best) continue;
                    best = iou[i][j];
                    m = j;
                }
                if (m == -1) continue;
                matched[ti] = true;
                ignored[ti] = g.get(m).crowd();
                gtMatched[ti][m] = true;
            }
            out.add(new Scored(d.get(i).score(), matched, ignored));
        }
    }

    private static double overlap(Detection d, Truth t, Kind kind) {
        if (kind == Kind.BOX) {
            if (!t.crowd()) return Boxes.iou(d.box(), t.box());
            double a = Boxes.area(d.box());
            return a > 0 ? Boxes.intersection(d.box(), t.box()) / a : 0;
        }
        if (d.mask() == null || t.mask() == null) throw new IllegalArgumentException("mask AP: a detection or truth of image " + t.image() + " has no mask");
        if (!t.crowd()) return Boxes.maskIou(d.mask(), t.mask());
        long inter = 0, area = 0;
        for (int i = 0; i < d.mask().length; i++)
            if (d.mask()[i] != 0) {
                area++;
                if (t.mask()[i] != 0) inter++;
            }
        return area > 0 ? (double) inter / area : 0;
    }

    /** COCOeval.accumulate for one category and threshold: monotone precision at 101 recall points, averaged. */
    private static double interpolatedAp(List<Scored> scored, int ti, int notIgnored) {
        List<double[]> pr = new ArrayList<>();                            // (recall, precision) after each kept detection
        int tp = 0, fp = 0;
        for (Scored s : scored) {
            if (s.ignored()[ti]) continue;
            if (s.matched()[ti]) tp++;
            else fp++;
            pr.add(new double[]{(double) tp / notIgnored, tp / (tp + fp + Math.ulp(1.0))});
        }
        int n = pr.size();
        double[] precision = new double[n];
        for (int i = 0; i < n; i++) precision[i] = pr.get(i)[1];
        for (int i = n - 1; i > 0; i--) precision[i - 1] = Math.max(precision[i - 1], precision[i]);
        double sum = 0;
        int p = 0;
        for (int r = 0; r <= 100; r++) {
            double recall = r / 100.0;
            while (p < n && pr.get(p)[0] < recall) p++;                  // searchsorted(side="left")
            if (p < n) sum += precision[p];
        }
        return sum / 101;
    }
}
