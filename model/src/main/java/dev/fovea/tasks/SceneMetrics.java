package dev.fovea.tasks;

import dev.fovea.data.coco.CocoDataset;
import dev.fovea.metrics.AveragePrecision;
import dev.fovea.metrics.Boxes;
import dev.fovea.metrics.SegmentationIoU;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A task's metrics over images as COCO defines them: correct localization (the top answer's class right and its
 * box at IoU ≥ 0.5 with an object of that class) for localize; box AP at IoU 0.5, 0.5:0.95 and 0.75 for detect;
 * mean IoU over background + classes and pixel accuracy for segment; mask AP (and box AP50, mean IoU) for instance.
 */
public final class SceneMetrics {
    private final Task task;
    private final int size;
    private final List<AveragePrecision.Truth> truths = new ArrayList<>();
    private final List<AveragePrecision.Detection> dets = new ArrayList<>();
    private final SegmentationIoU seg;
    private long localized, localizable;

    public SceneMetrics(Task task, int classes, int size) {
        this.task = task;
        this.size = size;
        this.seg = new SegmentationIoU(1 + classes);
    }

    /** Image {@code img} of {@code data} and what the model said about it. */
    public void add(SceneData data, int img, SceneTask.Prediction p) {
        long id = data.imageId(img);
        SceneData.Objects o = data.objects(img);
        if (task.segmentation && data.hasSemantic()) {
            int[] truth = new int[size * size];
            for (int q = 0; q < truth.length; q++) truth[q] = data.label(img, q);
            seg.add(truth, p.labels());
        }
        if (!task.detection) return;
        List<CocoDataset.Annotation> anns = data.coco().annotations(id);
        for (int j = 0; j < o.classes().length; j++)
            truths.add(new AveragePrecision.Truth(id, o.classes()[j], o.boxes()[j], task == Task.INSTANCE ? data.coco().mask(anns.get(j)) : null, o.crowd()[j]));
        for (DenseGrid.Detection d : p.detections())
            dets.add(new AveragePrecision.Detection(id, d.cls(), d.box(), d.mask(), d.score()));
        if (task != Task.LOCALIZE) return;
        boolean any = false, right = false;
        DenseGrid.Detection top = p.detections().isEmpty() ? null : p.detections().getFirst();
        for (int j = 0; j < o.classes().length; j++) {
            if (o.crowd()[j]) continue;
            any = true;
            right |= top != null && Boxes.correctlyLocalized(o.classes()[j], o.boxes()[j], top.cls(), top.box());
        }
        if (any) localizable++;
        if (right) localized++;
    }

    /**
     * Per class, in index order: AP over IoU 0.5:0.95 (boxes; masks for instance segmentation) of the classes with
     * objects, or for segmentation each class's IoU, background first (classes that occur nowhere left out).
     */
    public Map<String, Double> perClass(String[] names) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (task == Task.SEGMENT) {
            for (int c = 0; c <= names.length; c++) {
                double v = seg.iou(c);
                if (!Double.isNaN(v)) m.put(c == 0 ? "background" : names[c - 1], v);
            }
            return m;
        }
        AveragePrecision.Kind kind = task == Task.INSTANCE ? AveragePrecision.Kind.MASK : AveragePrecision.Kind.BOX;
        Map<Long, Double> ap = AveragePrecision.evaluate(truths, dets, kind, SceneTask.MAX_DETS).perCategory();
        for (int c = 0; c < names.length; c++) if (ap.containsKey((long) c)) m.put(names[c], ap.get((long) c));
        return m;
    }

    /** The task's metrics, its primary one ({@link Task#metric}) first. */
    public Map<String, Double> result() {
        Map<String, Double> m = new LinkedHashMap<>();
        int maxDets = SceneTask.MAX_DETS;
        switch (task) {
            case LOCALIZE -> {
                m.put("corloc", localizable > 0 ? (double) localized / localizable : 0);
                m.put("box_ap50", AveragePrecision.evaluate(truths, dets, AveragePrecision.Kind.BOX, maxDets).ap50());
            }
            case DETECT -> {
                AveragePrecision.Result r = AveragePrecision.evaluate(truths, dets, AveragePrecision.Kind.BOX, maxDets);
                m.put("box_ap50", r.ap50());
                m.put("box_ap", r.ap());
                m.put("box_ap75", r.ap75());
            }
            case SEGMENT -> {
                m.put("miou", seg.meanIoU());
                m.put("pixel_accuracy", seg.pixelAccuracy());
            }
            case INSTANCE -> {
                AveragePrecision.Result r = AveragePrecision.evaluate(truths, dets, AveragePrecision.Kind.MASK, maxDets);
                m.put("mask_ap50", r.ap50());
                m.put("mask_ap", r.ap());
                m.put("mask_ap75", r.ap75());
                m.put("box_ap50", AveragePrecision.evaluate(truths, dets, AveragePrecision.Kind.BOX, maxDets).ap50());
                m.put("miou", seg.meanIoU());
            }
        }
        return m;
    }
}
