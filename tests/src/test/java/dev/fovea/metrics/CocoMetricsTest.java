package dev.fovea.metrics;

import dev.fovea.data.coco.CocoDataset;
import dev.fovea.data.coco.Rle;
import dev.fovea.io.Json;
import dev.fovea.metrics.AveragePrecision.Detection;
import dev.fovea.metrics.AveragePrecision.Kind;
import dev.fovea.metrics.AveragePrecision.Truth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** COCO metrics against pycocotools' COCOeval (tools/make-coco-fixture.py) and against cases worked by hand. */
class CocoMetricsTest {
    @TempDir Path tmp;

    static final double[] BOX = {10, 10, 10, 10};

    static Truth truth(long image, long cat, double[] box, boolean crowd) { return new Truth(image, cat, box, null, crowd); }

    static Detection det(long image, long cat, double[] box, double score) { return new Detection(image, cat, box, null, score); }

    @Test void perfectDetectionsScoreOne() {
        var r = AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false)), List.of(det(1, 1, BOX, 0.9)), Kind.BOX, 100);
        assertEquals(1.0, r.ap(), 1e-12);
        assertEquals(1.0, r.ap50(), 1e-12);
    }

    @Test void anOverlapOfSixTenthsCountsAtThreeThresholdsOfTen() {
        // [10,10,10,10] against [10,10,10,6]: IoU 0.6, a hit at 0.50, 0.55 and 0.60 only
        var r = AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false)), List.of(det(1, 1, new double[]{10, 10, 10, 6}, 0.9)), Kind.BOX, 100);
        assertEquals(0.6, Boxes.iou(BOX, new double[]{10, 10, 10, 6}), 1e-12);
        assertEquals(1.0, r.ap50(), 1e-12);
        assertEquals(0.0, r.ap75(), 1e-12);
        assertEquals(0.3, r.ap(), 1e-12);
    }

    @Test void aFalsePositiveRankedFirstHalvesPrecision() {
        // ranked: a miss (0.9), then the hit (0.8): precision 1/2 at recall 1, and monotone precision is 1/2 everywhere
        var r = AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false)),
                List.of(det(1, 1, new double[]{40, 40, 5, 5}, 0.9), det(1, 1, BOX, 0.8)), Kind.BOX, 100);
        assertEquals(0.5, r.ap50(), 1e-12);
        // ranked the other way round, the miss costs nothing
        var s = AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false)),
                List.of(det(1, 1, new double[]{40, 40, 5, 5}, 0.7), det(1, 1, BOX, 0.8)), Kind.BOX, 100);
        assertEquals(1.0, s.ap50(), 1e-12);
    }

    @Test void halfTheObjectsFoundIsHalfTheRecallPoints() {
        // two objects, one found: precision 1 up to recall 0.5 (51 of the 101 points), then nothing
        var r = AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false), truth(2, 1, BOX, false)), List.of(det(1, 1, BOX, 0.9)), Kind.BOX, 100);
        assertEquals(51 / 101.0, r.ap50(), 1e-12);
    }

    @Test void crowdRegionsNeitherCountNorPenalize() {
        double[] crowd = {30, 30, 20, 20};
        var r = AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false), truth(1, 1, crowd, true)),
                List.of(det(1, 1, new double[]{32, 32, 5, 5}, 0.95), det(1, 1, BOX, 0.5)), Kind.BOX, 100);
        assertEquals(1.0, r.ap50(), 1e-12, "the detection inside the crowd region is ignored, not a false positive");
    }

    @Test void degenerateInputsDoNotCrash() {
        assertEquals(0.0, AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false)), List.of(), Kind.BOX, 100).ap());
        assertEquals(0.0, AveragePrecision.evaluate(List.of(), List.of(det(1, 1, BOX, 0.5)), Kind.BOX, 100).ap());
        assertEquals(0.0, AveragePrecision.evaluate(List.of(truth(1, 1, BOX, false)), List.of(det(1, 1, new double[]{10, 10, 0, 0}, 0.5)), Kind.BOX, 100).ap());
        assertEquals(0.0, Boxes.iou(new double[]{0, 0, 0, 0}, new double[]{0, 0, 0, 0}));
    }

    @Test void meanIoUAndLocalizationByHand() {
        SegmentationIoU m = new SegmentationIoU(3);
        m.add(new int[]{0, 0, 1, 1}, new int[]{0, 1, 1, 1});
        // class 0: 1 / (1 + 0 + 1); class 1: 2 / (2 + 1 + 0); class 2 occurs nowhere and is left out
        assertEquals((0.5 + 2 / 3.0) / 2, m.meanIoU(), 1e-12);
        assertTrue(Double.isNaN(m.iou(2)));
        assertEquals(0.75, m.pixelAccuracy(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> m.add(new int[]{0}, new int[]{3}));
        assertTrue(Boxes.correctlyLocalized(4, BOX, 4, new double[]{10, 10, 10, 6}));
        assertFalse(Boxes.correctlyLocalized(4, BOX, 5, BOX));
        assertFalse(Boxes.correctlyLocalized(4, BOX, 4, new double[]{10, 10, 10, 4}));
    }

    @Test void nonMaximumSuppressionKeepsTheBestOfEachCluster() {
        double[][] b = {{0, 0, 10, 10}, {1, 0, 10, 10}, {30, 30, 5, 5}, {0, 1, 10, 10}, {31, 30, 5, 5}};
        double[] s = {0.6, 0.9, 0.5, 0.9, 0.7};
        // 1 and 3 tie at 0.9 (1 first, lower index); 3 overlaps 1 by 81/119 > 0.5; 0 overlaps 1; 4 beats 2
        assertArrayEquals(new int[]{1, 4}, Boxes.nms(b, s, 0.5));
        assertArrayEquals(new int[]{1, 3, 4, 0, 2}, Boxes.nms(b, s, 0.9));
        assertEquals(0, Boxes.nms(new double[0][], new double[0], 0.5).length);
    }

    // ---------------------------------------------------------------- against pycocotools

    @SuppressWarnings("unchecked")
    @Test void boxAndMaskApMatchCocoEval() throws Exception {
        Map<String, Object> fx = (Map<String, Object>) Json.parse(Files.readString(Path.of(getClass().getResource("/fixtures/coco_eval.json").toURI())));
        Path ann = tmp.resolve("gt.json");
        Files.writeString(ann, toJson(fx.get("ground_truth")));
        CocoDataset gt = CocoDataset.read(ann, tmp);
        List<Truth> boxes = new ArrayList<>(), masks = new ArrayList<>();
        for (var im : gt.images())
            for (var a : gt.annotations(im.id())) {
                boxes.add(new Truth(im.id(), a.categoryId(), a.bbox(), null, a.crowd()));
                masks.add(new Truth(im.id(), a.categoryId(), a.bbox(), gt.mask(a), a.crowd()));
            }
        List<Detection> boxDets = new ArrayList<>(), maskDets = new ArrayList<>();
        for (Object o : (List<Object>) fx.get("detections")) {
            Map<String, Object> d = (Map<String, Object>) o;
            long image = ((Number) d.get("image_id")).longValue(), cat = ((Number) d.get("category_id")).longValue();
            double[] box = ((List<Object>) d.get("bbox")).stream().mapToDouble(v -> ((Number) v).doubleValue()).toArray();
            double score = ((Number) d.get("score")).doubleValue();
            Map<String, Object> seg = (Map<String, Object>) d.get("segmentation");
            byte[] mask = Rle.fromString((String) seg.get("counts"), 32, 32).decode();
            boxDets.add(new Detection(image, cat, box, null, score));
            maskDets.add(new Detection(image, cat, box, mask, score));
        }
        for (var kind : List.of(Kind.BOX, Kind.MASK)) {
            Map<String, Object> want = (Map<String, Object>) fx.get(kind == Kind.BOX ? "bbox" : "segm");
            var got = AveragePrecision.evaluate(kind == Kind.BOX ? boxes : masks, kind == Kind.BOX ? boxDets : maskDets, kind, 100);
            assertEquals(((Number) want.get("ap")).doubleValue(), got.ap(), 1e-9, kind + " AP");
            assertEquals(((Number) want.get("ap50")).doubleValue(), got.ap50(), 1e-9, kind + " AP50");
            assertEquals(((Number) want.get("ap75")).doubleValue(), got.ap75(), 1e-9, kind + " AP75");
        }
    }

    @SuppressWarnings("unchecked")
    @Test void rleMatchesPycocotools() throws Exception {
        Map<String, Object> fx = (Map<String, Object>) Json.parse(Files.readString(Path.of(getClass().getResource("/fixtures/coco_eval.json").toURI())));
        for (Object o : (List<Object>) fx.get("masks")) {
            Map<String, Object> m = (Map<String, Object>) o;
            List<Object> px = (List<Object>) m.get("pixels");
            byte[] want = new byte[px.size()];
            for (int i = 0; i < want.length; i++) want[i] = (byte) ((Number) px.get(i)).intValue();
            Rle r = Rle.fromString((String) m.get("counts"), 32, 32);
            assertArrayEquals(want, r.decode());
            assertEquals(m.get("counts"), Rle.encode(want, 32, 32).toCompressedString());
            assertEquals(r, Rle.encode(want, 32, 32));
        }
    }

    // ---------------------------------------------------------------- bad annotation files

    @Test void badAnnotationsAreNamed() throws Exception {
        String head = "{\"categories\": [{\"id\": 1, \"name\": \"a\"}], \"images\": [{\"id\": 7, \"file_name\": \"x.png\", \"width\": 64, \"height\": 48}], \"annotations\": [";
        assertBad(head + "{\"id\": 3, \"image_id\": 7, \"category_id\": 1}]}", "annotation 3: \"bbox\" must be [x, y, width, height], got nothing");
        assertBad(head + "{\"id\": 3, \"image_id\": 7, \"category_id\": 2, \"bbox\": [1, 2, 3, 4]}]}", "annotation 3: category_id 2 is not among the categories [1]");
        assertBad(head + "{\"id\": 3, \"image_id\": 8, \"category_id\": 1, \"bbox\": [1, 2, 3, 4]}]}", "annotation 3: image_id 8 is not among the images");
        assertBad(head + "{\"id\": 3, \"image_id\": 7, \"category_id\": 1, \"bbox\": [60, 2, 10, 4]}]}", "annotation 3: bbox [60, 2, 10, 4] lies outside image 7 (64x48)");
        assertBad(head + "{\"id\": 3, \"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"segmentation\": {\"size\": [32, 32], \"counts\": [1024]}}]}",
                "annotation 3: segmentation size [32, 32] does not match image 7 (64x48)");
        assertBad(head + "{\"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 2, 3, 4]}]}", "annotation #0 (it has no \"id\"): missing number \"id\"");
        assertBad(head + "{\"id\": 3, \"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"segmentation\": {\"size\": [48, 64], \"counts\": [5]}}]}",
                "annotation 3: RLE: run lengths sum to 5, not 48x64 = 3072");
        assertBad("{\"images\": [}", "not valid JSON");
    }

    private void assertBad(String json, String expected) throws Exception {
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, json);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CocoDataset.read(f, tmp));
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    /** A parsed JSON value written back as JSON (enough for the fixture: objects, lists, numbers, strings). */
    @SuppressWarnings("unchecked")
    static String toJson(Object v) {
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            for (var e : ((Map<String, Object>) m).entrySet()) sb.append(sb.length() > 1 ? ", " : "").append(Json.quote(e.getKey())).append(": ").append(toJson(e.getValue()));
            return sb.append('}').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (Object o : l) sb.append(sb.length() > 1 ? ", " : "").append(toJson(o));
            return sb.append(']').toString();
        }
        if (v instanceof String s) return Json.quote(s);
        return String.valueOf(v);
    }
}
