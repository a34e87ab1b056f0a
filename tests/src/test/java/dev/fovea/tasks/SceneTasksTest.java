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
    static SceneTrainer.Raw perfect(DenseGrid.Targets tg) {
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
        return new SceneTrainer.Raw(cls, tg.giouBox(), seg, image);
    }

    @Test void targetsDecodeBackToTheTruthAndScorePerfectly() {
        int[] idx = new int[data.count()];
        for (int i = 0; i < idx.length; i++) idx[i] = i;
        for (Task task : Task.values()) {
            SceneNet.Config cfg = config(task);
            DenseGrid.Targets tg = DenseGrid.encode(data, idx, cfg);
            List<SceneTrainer.Prediction> preds = SceneTrainer.decode(cfg, task, perfect(tg), idx.length);
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

    @Test void localizationTakesTheMostConfidentCell() {
        SceneNet.Config cfg = config(Task.LOCALIZE);
        int[] idx = {0};
        DenseGrid.Targets tg = DenseGrid.encode(data, idx, cfg);
        SceneTrainer.Raw raw = perfect(tg);
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
        TrainConfig tc = new TrainConfig("scenenet", "", 40, 12, 0.003f, "adamw", 0.9f, 0f, false, "constant", 0, 1L, 0f, false);
        try (SceneNet net = new SceneNet(CPU, cfg, 1); Optimizer opt = tc.newOptimizer(CPU, net)) {
            SceneTrainer tr = new SceneTrainer(CPU, net, opt, tc, Task.INSTANCE, data, data.pixelStats(), 0);
            EpochMetrics first = tr.trainEpoch(1, (e, i, n, s, secs, l) -> {});
            EpochMetrics last = first;
            for (int e = 2; e <= 40; e++) last = tr.trainEpoch(e, (ep, i, n, s, secs, l) -> {});
            assertTrue(last.trainLoss() < 0.5 * first.trainLoss(), first.trainLoss() + " -> " + last.trainLoss());
        }
    }
}
