package dev.fovea.tasks;

import java.util.Locale;

/** The vision tasks beyond classification, with the heads each needs and the metric that judges it. */
public enum Task {
    /** One object per image: its class (from the whole image) and box (from the grid). Judged by the correct-localization rate. */
    LOCALIZE(true, false, true, "corloc", 36, true),
    /** A box and a class for each object. Judged by COCO box AP at IoU 0.5. */
    DETECT(true, false, false, "box_ap50", 16, false),
    /** A class for each pixel (background included). Judged by mean IoU over the classes. */
    SEGMENT(false, true, false, "miou", 20, false),
    /** A mask and a class for each object. Judged by COCO mask AP at IoU 0.5. */
    INSTANCE(true, true, false, "mask_ap50", 16, false);

    public final boolean detection, segmentation;
    /** An image-level class head: localization takes its class from the whole image and its box from the grid. */
    public final boolean imageClass;
    /** The metric's name in the CLI's output and the checkpoint's history. */
    public final String metric;
    /** Training epochs by default: what a run on 20,000 Fashion-MNIST scenes affords within the hour on 2 cores. */
    public final int epochs;
    /**
     * Training scenes mirrored and moved by default: localization learns its class from the whole image, and a new
     * picture of each of its items every epoch is what keeps that head from learning the pictures by heart.
     */
    public final boolean augment;

    Task(boolean detection, boolean segmentation, boolean imageClass, String metric, int epochs, boolean augment) {
        this.detection = detection;
        this.segmentation = segmentation;
        this.imageClass = imageClass;
        this.metric = metric;
        this.epochs = epochs;
        this.augment = augment;
    }

    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static Task parse(String s) {
        for (Task t : values()) if (t.id().equals(s)) return t;
        throw new IllegalArgumentException("unknown task '" + s + "', expected localize, detect, segment or instance");
    }

    /** Whether a model trained for this task has the heads {@code other} needs. */
    public boolean covers(Task other) {
        return (!other.detection || detection) && (!other.segmentation || segmentation);
    }
}
