package dev.fovea.explain;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.coco.CocoDataset;
import dev.fovea.inference.Predictor;
import dev.fovea.models.Captioner;
import dev.fovea.models.LeNet5;
import dev.fovea.models.Models;
import dev.fovea.models.SceneNet;
import dev.fovea.nn.Module;
import dev.fovea.optim.Optimizer;
import dev.fovea.tasks.CaptionTask;
import dev.fovea.tasks.SceneTask;
import dev.fovea.tasks.Task;
import dev.fovea.tasks.TaskSpec;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * explain on every family Fovea trains, through the library: what it finds has the model's shapes and sums, and a
 * picture comes with it. (Untrained weights: the numbers are checked, not what they look like.)
 */
class ExplainerTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    @TempDir Path tmp;

    @AfterAll static void close() { CPU.close(); }

    Path save(String name, Module m, TrainConfig cfg, Map<String, String> meta) throws Exception {
        Path f = tmp.resolve(name + ".safetensors");
        try (m; Optimizer opt = cfg.newOptimizer(CPU, m)) { Checkpoint.save(f, m, opt, cfg, 1, 1, List.of(), meta); }
        return f;
    }

    static BufferedImage boot() throws Exception {
        ImageDataset test = ImageDataset.embeddedSample().test();
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, 28, 28, Arrays.copyOf(test.pixels(), 784));
        return img;
    }

    Map<String, String> fashion() throws Exception {
        ImageDataset.Splits d = ImageDataset.embeddedSample();
        TrainConfig cfg = TrainConfig.builder("lenet5").build();
        try (var m = Models.create(CPU, "lenet5", null, 1)) { return new ClassificationTask(CPU, m, cfg, d.train(), d.test()).metadata(); }
    }

    @Test void lenetShowsItsKernelsMapsAndConnectionTable() throws Exception {
        Path f = save("lenet", LeNet5.create(CPU, LeNet5.Variant.PAPER, 3), TrainConfig.builder("lenet5").build(), fashion());
        try (Predictor p = Predictor.load(CPU, f)) {
            var e = assertInstanceOf(Explainer.Convolutions.class, Explainer.explain(CPU, p, boot()));
            assertEquals(List.of("C1", "S2", "C3", "S4"), List.copyOf(e.maps().keySet()));
            assertEquals(List.of(6, 28, 16, 5), List.of(e.maps().get("C1").channels(), e.maps().get("C1").height(), e.maps().get("C3").channels(), e.maps().get("S4").width()));
            assertEquals(6 * 25, e.kernels().values().length);
            for (int o = 0; o < 16; o++) assertArrayEquals(LeNet5.c3Table()[o], e.connections()[o], "C3 map " + o);
            assertTrue(e.picture().getWidth() > 500 && e.picture().getHeight() > 400, e.picture().getWidth() + "x" + e.picture().getHeight());
            assertTrue(e.summary().contains("predicted "), e.summary());
        }
    }

    @Test void vitShowsEachHeadsClassTokenAttentionTheRolloutAndThePositions() throws Exception {
        Path f = save("vit", Models.create(CPU, "vit", null, 3), TrainConfig.builder("vit").build(), fashion());
        try (Predictor p = Predictor.load(CPU, f)) {
            var e = assertInstanceOf(Explainer.Attentions.class, Explainer.explain(CPU, p, boot()));
            var cfg = Models.VIT_FASHION;
            assertEquals(cfg.gridSize(), e.grid());
            assertEquals(cfg.depth(), e.perLayer().size());
            double sum = 0;
            for (double[] head : e.perLayer().getFirst()) {
                assertEquals(cfg.patches(), head.length);
                double s = Arrays.stream(head).sum();
                assertTrue(s > 0 && s < 1 + 1e-6, "the class token's attention to the patches is part of one: " + s);
            }
            for (double v : e.rollout()) sum += v;
            assertTrue(sum > 0 && sum < 1 + 1e-9, "rollout over the patches: " + sum);
            for (int i = 0; i < cfg.patches(); i++) assertEquals(1.0, e.positions()[i][i], 1e-6, "a position is itself");
        }
    }

    @Test void sceneModelsAndCaptionersShowTheirAttentionOverTheCells() throws Exception {
        SceneNet.Config sc = new SceneNet.Config(32, 1, 2, 16, 2, 2, true, false, false);
        TaskSpec spec = new TaskSpec(Task.DETECT, sc, List.of(new CocoDataset.Category(1, "bag"), new CocoDataset.Category(4, "coat")), 0.2f, 0.3f);
        Path scene = save("scene", new SceneNet(CPU, sc, 7), SceneTask.defaults(Task.DETECT).build(), spec.toMetadata());
        try (Predictor p = Predictor.load(CPU, scene)) {
            var e = assertInstanceOf(Explainer.Attentions.class, Explainer.explain(CPU, p, boot()));
            assertEquals(4, e.grid(), "32x32 in 8x8 cells");
            assertEquals(2, e.perLayer().size());
            assertEquals(1.0, Arrays.stream(e.perLayer().getFirst()[0]).sum(), 1e-5, "the mean over queries of rows that sum to one");
        }
        Vocabulary v = Vocabulary.build(List.of("a bag at the top", "a coat at the top", "a bag at the left"), 1);
        Captioner.Config cc = new Captioner.Config(32, 1, 16, 1, 2, 2, v.size(), 8);
        Path cap = save("caption", new Captioner(CPU, cc, 7), TrainConfig.builder(CaptionTask.MODEL).build(), CaptionTask.metadata(cc, v, new float[]{0.2f, 0.3f}));
        try (Predictor p = Predictor.load(CPU, cap)) {
            var e = assertInstanceOf(Explainer.Captions.class, Explainer.explain(CPU, p, boot()));
            assertEquals(e.words().size(), e.overCells().size(), "a map for every word: " + e.words());
            for (double[] w : e.overCells()) assertEquals(1.0, Arrays.stream(w).sum(), 1e-5, "a word's attention over the cells sums to one");
        }
    }
}
