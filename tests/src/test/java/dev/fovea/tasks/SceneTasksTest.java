package dev.fovea.tasks;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cli.Main;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.models.SceneNet;
import dev.fovea.optim.Optimizer;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.testing.Bed;
import dev.fovea.train.EpochMetrics;
import dev.fovea.train.TrainConfig;
import dev.fovea.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scene tasks' targets, decoding, metrics and model, on a few generated scenes. */
class SceneTasksTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    @TempDir static Path tmp;
    static SceneData data;

    @BeforeAll static void scenes() throws IOException {
        assertEquals(0, Main.run("scenes", "--out", tmp.toString(), "--count", "12", "--test-count", "1", "--seed", "11"));
        data = SceneData.load(tmp.resolve("train"), null, true);
    }

    static SceneNet.Config config(Task task) {
        return new SceneNet.Config(64, 1, 10, 16, 1, 2, task.detection, task.segmentation, task.imageClass);
    }

    /** What a perfect model would output: the targets themselves, as logits and corners. */
    static SceneTask.Raw perfect(DenseGrid.Targets tg, SceneNet.Config cfg, int count) {
        float[] cls = null, seg = null;
        if (tg.cls() != null) {
            cls = new float[tg.cls().length * 11];
            for (int r = 0; r < tg.cls().length; r++) cls[r * 11 + (int) tg.cls()[r]] = 12f;
        }
        if (tg.seg() != null) {
            seg = new float[tg.seg().length * 11];
            for (int r = 0; r < tg.seg().length; r++) seg[r * 11 + (int) tg.seg()[r]] = 12f;
        }
        float[] image = null;
        if (tg.image() != null) {
            image = new float[tg.image().length * 10];
            for (int r = 0; r < tg.image().length; r++) image[r * 10 + (int) tg.image()[r]] = 12f;
        }
        return SceneTask.Raw.of(cls, tg.giouBox(), seg, image, cfg, count);
    }

    @Test void targetsDecodeBackToTheTruthAndScorePerfectly() {
        int[] idx = new int[data.count()];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        for (Task task : Task.values()) {
            SceneNet.Config cfg = config(task);
            DenseGrid.Targets tg = DenseGrid.encode(data, idx, cfg);
            List<SceneTask.Prediction> preds = SceneTask.decode(cfg, task, perfect(tg, cfg, idx.length), idx.length);
            SceneMetrics m = new SceneMetrics(task, 10, 64);
            for (int i = 0; i < idx.length; i++) m.add(data, i, preds.get(i));
            Map<String, Double> r = m.result();
            assertEquals(1.0, r.get(task.metric), 1e-9, task + " " + r);
            if (task == Task.DETECT) assertEquals(1.0, r.get("box_ap"), 1e-9, "every decoded box is its object's box: " + r);
            if (task == Task.INSTANCE) assertEquals(1.0, r.get("mask_ap"), 1e-9, "masks from a perfect label map: " + r);
        }
        // every object owns its centre cell, of its class
        SceneNet.Config cfg = config(Task.DETECT);
        DenseGrid.Targets tg = DenseGrid.encode(data, idx, cfg);
        int objects = 0;
        for (int i = 0; i < idx.length; i++) {
            SceneData.Objects o = data.objects(i);
            for (int j = 0; j < o.classes().length; j++) {
                objects++;
                double[] b = o.boxes()[j];
                int cell = (int) ((b[1] + b[3] / 2) / 8) * 8 + (int) ((b[0] + b[2] / 2) / 8);
                assertEquals(1 + o.classes()[j], (int) tg.cls()[i * 64 + cell], "image " + i + " object " + j);
            }
        }
        assertTrue(tg.positives() >= objects && tg.positives() <= 9 * objects, tg.positives() + " positive cells for " + objects + " objects");
    }

    /** Mirrored and moved scenes: the same pixels, every object whole, boxes and label maps moved with the picture. */
    @Test void movedScenesKeepTheirObjectsWholeWithBoxesAndLabelsAlong() {
        SplittableRandom rng = new SplittableRandom(5);
        int s = 64, tries = 0, mirrored = 0, shifted = 0;
        float[] before = new float[s * s], after = new float[s * s];
        for (int i = 0; i < data.count(); i++)
            for (int k = 0; k < 4; k++, tries++) {
                SceneData.Move m = data.randomMove(i, rng, 16);
                mirrored += m.mirror() ? 1 : 0;
                shifted += m.dx() != 0 || m.dy() != 0 ? 1 : 0;
                assertTrue(Math.abs(m.dx()) <= 16 && Math.abs(m.dy()) <= 16, m.toString());
                data.batch(new int[]{i}, null, 0f, 1f, before);
                data.batch(new int[]{i}, new SceneData.Move[]{m}, 0f, 1f, after);
                double sumBefore = 0, sumAfter = 0;
                for (int p = 0; p < s * s; p++) { sumBefore += before[p]; sumAfter += after[p]; }
                // (the scenes' boxes and masks leave out the faintest pixels, 1/255, which a move may push off the canvas)
                assertEquals(sumBefore, sumAfter, 0.02, "image " + i + " " + m + ": no pixel of an object leaves the canvas");
                SceneData.Objects o = data.objects(i, m);
                int labelledBefore = 0, labelled = 0;
                double x0 = s, y0 = s, x1 = 0, y1 = 0, bx0 = s, by0 = s, bx1 = 0, by1 = 0;
                for (double[] b : o.boxes()) {
                    assertTrue(b[0] >= 0 && b[1] >= 0 && b[0] + b[2] <= s && b[1] + b[3] <= s, "image " + i + " " + m + ": box " + java.util.Arrays.toString(b));
                    bx0 = Math.min(bx0, b[0]); by0 = Math.min(by0, b[1]); bx1 = Math.max(bx1, b[0] + b[2]); by1 = Math.max(by1, b[1] + b[3]);
                }
                for (int p = 0; p < s * s; p++) {
                    int r = p / s, c = p % s, label = data.label(i, m, p);
                    labelledBefore += data.label(i, p) != 0 ? 1 : 0;
                    if (label != 0) {
                        labelled++;
                        boolean inBoxOfItsClass = false;
                        for (int j = 0; j < o.boxes().length; j++) {
                            double[] b = o.boxes()[j];
                            inBoxOfItsClass |= 1 + o.classes()[j] == label && c + 0.5 > b[0] && c + 0.5 < b[0] + b[2] && r + 0.5 > b[1] && r + 0.5 < b[1] + b[3];
                        }
                        assertTrue(inBoxOfItsClass, "image " + i + " " + m + ": pixel (" + r + ", " + c + ") labelled " + label + " outside its object's moved box");
                    }
                    if (after[p] > 0.05f) { x0 = Math.min(x0, c); y0 = Math.min(y0, r); x1 = Math.max(x1, c + 1); y1 = Math.max(y1, r + 1); }
                }
                assertEquals(labelledBefore, labelled, "image " + i + " " + m + ": labelled pixels");
                // the training targets follow: each moved object owns the cell of its moved centre
                DenseGrid.Targets tg = DenseGrid.encode(data, new int[]{i}, new SceneData.Move[]{m}, config(Task.INSTANCE));
                for (int j = 0; j < o.classes().length; j++) {
                    double[] b = o.boxes()[j];
                    int cell = (int) ((b[1] + b[3] / 2) / 8) * 8 + (int) ((b[0] + b[2] / 2) / 8);
                    assertEquals(1 + o.classes()[j], (int) tg.cls()[cell], "image " + i + " " + m + " object " + j);
                }
                for (int p = 0; p < s * s; p++) {
                    int r = p / s, c = p % s, cellRow = (r / 8) * 8 + c / 8, inCell = (r % 8) * 8 + c % 8;
                    assertEquals(data.label(i, m, p), (int) tg.seg()[cellRow * 64 + inCell], "image " + i + " " + m + " pixel " + p);
                }
                // the boxes are tight around the items' pixels before the move, and so after it
                assertEquals(bx0, x0, 1.0, "left"); assertEquals(bx1, x1, 1.0, "right");
                assertEquals(by0, y0, 1.0, "top"); assertEquals(by1, y1, 1.0, "bottom");
            }
        assertTrue(mirrored > tries / 4 && mirrored < 3 * tries / 4, mirrored + " of " + tries + " mirrored");
        assertTrue(shifted > tries / 2, shifted + " of " + tries + " moved");
    }

    @Test void localizationTakesTheMostConfidentCell() {
        SceneNet.Config cfg = config(Task.LOCALIZE);
        int[] idx = {0};
        DenseGrid.Targets tg = DenseGrid.encode(data, idx, cfg);
        SceneTask.Raw raw = perfect(tg, cfg, idx.length);
        // a wrong class, slightly less sure, elsewhere
        int empty = 0;
        while (tg.cls()[empty] != 0) empty++;
        raw.cls()[empty * 11 + 3] = 11f;
        DenseGrid.Detection top = DenseGrid.localize(raw.cls(), raw.corners(), null, 0, cfg);
        SceneData.Objects o = data.objects(0);
        boolean matches = false;
        for (int j = 0; j < o.classes().length; j++) matches |= o.classes()[j] == top.cls() && dev.fovea.metrics.Boxes.iou(o.boxes()[j], top.box()) > 0.999;
        assertTrue(matches, "top " + top.cls() + " " + java.util.Arrays.toString(top.box()));
    }

    @Test void headsAgreeWithTheReferenceBackendForwardAndBackward() {
        Backend ref = new ReferenceBackend();
        SceneNet.Config cfg = new SceneNet.Config(16, 1, 3, 8, 1, 2, true, true);
        float[] x = Bed.random(new SplittableRandom(5), 2 * 16 * 16);
        float[][] outs = new float[2][], grads = new float[2][];
        Backend[] bes = {CPU, ref};
        for (int k = 0; k < 2; k++) {
            try (SceneNet net = new SceneNet(bes[k], cfg, 9); Tape t = Tape.training(bes[k])) {
                SceneNet.Out o = net.heads(t, t.constant(bes[k].upload(x, 2, 1, 16, 16)));
                Var sum = t.add(t.add(t.sum(t.mul(o.cls(), o.cls())), t.sum(o.corners())), t.sum(t.mul(o.seg(), o.seg())));
                sum.backward();
                outs[k] = concat(o.cls().value().toArray(), o.corners().value().toArray(), o.seg().value().toArray());
                grads[k] = concat(net.stem1.weight.grad().toArray(), net.posEmbed.grad().toArray(), net.segHead.weight.grad().toArray());
            }
        }
        assertEquals(2 * 4 * 4 + 2 * 4 * 4 + 2 * 4 * 64 * 4, outs[0].length);      // 2 images of 2x2 cells, 1 + 3 classes
        for (int i = 0; i < outs[0].length; i++) assertEquals(outs[1][i], outs[0][i], 1e-4 * Math.max(1, Math.abs(outs[1][i])), "output " + i);
        for (int i = 0; i < grads[0].length; i++) assertEquals(grads[1][i], grads[0][i], 1e-3 * Math.max(1, Math.abs(grads[1][i])), "gradient " + i);
    }

    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) { System.arraycopy(p, 0, out, at, p.length); at += p.length; }
        return out;
    }

    @Test void trainingLowersTheLossOnAFewScenes() {
        SceneNet.Config cfg = new SceneNet.Config(64, 1, 10, 32, 1, 2, true, true);
        TrainConfig tc = TrainConfig.builder("scenenet").epochs(40).batch(12).lr(0.003f).weightDecay(0f).schedule("constant").warmup(0).build();
        float[] stats = data.pixelStats();
        TaskSpec spec = new TaskSpec(Task.INSTANCE, cfg, data.categories(), stats[0], stats[1]);
        try (SceneNet net = new SceneNet(CPU, cfg, 1); Optimizer opt = tc.newOptimizer(CPU, net)) {
            var tr = new Trainer<>(CPU, net, opt, tc, new SceneTask(CPU, net, tc, spec, data, data));
            EpochMetrics first = tr.trainEpoch(1, Trainer.Listener.SILENT);
            EpochMetrics last = first;
            for (int e = 2; e <= 40; e++) last = tr.trainEpoch(e, Trainer.Listener.SILENT);
            assertTrue(last.trainLoss() < 0.5 * first.trainLoss(), first.trainLoss() + " -> " + last.trainLoss());
        }
    }
}
