package dev.fovea.inference;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.data.ImageDataset;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.FixtureCheck;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.testing.Bed;
import dev.fovea.optim.Optimizer;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The public way in: a checkpoint Fovea wrote and a timm folder load through {@link Predictor#load} into classifiers
 * that take images as they come, answer with the checkpoint's class names, agree with the model run by hand, and
 * serve several threads at once with the single-thread answers.
 */
class PredictorTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    @TempDir Path tmp;

    @AfterAll static void close() { CPU.close(); }

    /** A LeNet-5 checkpoint as `fovea train` writes it (untrained weights: what matters is the path, not the accuracy). */
    static Path fashionCheckpoint(Path dir, ImageDataset.Splits data) throws Exception {
        Path ckpt = dir.resolve("lenet.safetensors");
        TrainConfig cfg = TrainConfig.builder("lenet5").epochs(1).build();
        try (Layer m = Models.create(CPU, "lenet5", null, 7); Optimizer opt = cfg.newOptimizer(CPU, m)) {
            Checkpoint.save(ckpt, m, opt, cfg, 1, 0, List.of(), new ClassificationTask(CPU, m, cfg, data.train(), data.test()).metadata());
        }
        return ckpt;
    }

    static BufferedImage grey(ImageDataset d, int i) {
        BufferedImage img = new BufferedImage(d.width(), d.height(), BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, d.width(), d.height(), java.util.Arrays.copyOfRange(d.pixels(), i * d.imageSize(), (i + 1) * d.imageSize()));
        return img;
    }

    @Test void aFoveaCheckpointClassifiesImagesWithItsClassNames() throws Exception {
        ImageDataset.Splits data = ImageDataset.embeddedSample();
        ImageDataset test = data.test();
        Path ckpt = fashionCheckpoint(tmp, data);
        try (Predictor p = Predictor.load(CPU, ckpt)) {
            ImageClassifier c = assertInstanceOf(ImageClassifier.class, p);
            assertEquals(List.of(ImageDataset.FASHION_CLASSES), c.labels());
            assertEquals(test.preprocessing(), c.preprocessing());
            // a 28x28 grey image goes in unchanged: the answer is the model's on the data set's own normalised pixels
            float[] x = new float[784];
            test.normalized(3, x, 0);
            float[] byHand;
            try (ClassificationTask.Loaded w = ClassificationTask.load(CPU, ckpt); Tape t = Tape.inference(CPU)) {
                w.model().train(false);
                var logits = w.model().forward(t, t.constant(CPU.upload(x, 1, 1, 28, 28)));
                var prob = t.alloc(logits.shape());
                CPU.softmaxForward(logits.value(), prob, false);
                byHand = prob.toArray();
            }
            List<ImageClassifier.Label> top = c.classify(grey(test, 3), 10);
            assertEquals(10, top.size());
            for (ImageClassifier.Label l : top) {
                assertEquals(byHand[l.index()], l.probability(), "class " + l.index());
                assertEquals(ImageDataset.FASHION_CLASSES[l.index()], l.name());
            }
            for (int k = 1; k < top.size(); k++) assertTrue(top.get(k - 1).probability() >= top.get(k).probability(), "most probable first");
            // a batch answers as one image at a time does (to float rounding: the kernels block a batch differently)
            List<BufferedImage> images = new ArrayList<>();
            for (int i = 0; i < 70; i++) images.add(grey(test, i));
            List<List<ImageClassifier.Label>> batch = c.classify(images, 10);
            assertEquals(70, batch.size());
            for (int i : new int[]{3, 65}) {
                List<ImageClassifier.Label> one = c.classify(images.get(i), 10);
                for (ImageClassifier.Label l : one) {
                    ImageClassifier.Label b = batch.get(i).stream().filter(o -> o.index() == l.index()).findFirst().orElseThrow();
                    assertEquals(l.probability(), b.probability(), 1e-6, "image " + i + ", class " + l.index());
                }
            }
        }
    }

    @Test void oneClassifierServesFourThreadsWithTheSingleThreadAnswers() throws Exception {
        ImageDataset.Splits data = ImageDataset.embeddedSample();
        try (ImageClassifier c = ImageClassifier.load(CPU, fashionCheckpoint(tmp, data))) {
            Bed.sameOnFourThreads(12, 30, i -> probabilities(c, data.test(), i));
        }
    }

    static float[] probabilities(ImageClassifier c, ImageDataset d, int i) {
        float[] p = new float[c.classes()];
        for (ImageClassifier.Label l : c.classify(grey(d, i), c.classes())) p[l.index()] = l.probability();
        return p;
    }

    @Test void aTimmFolderLoadsWithItsPreprocessingAndLabelsAndGivesTimmsAnswers() throws Exception {
        Path fixture = Path.of(PredictorTest.class.getResource("/fixtures/vit_tiny_c1_28.safetensors").toURI());
        Path hub = Bed.hubFolder(tmp.resolve("hub"), fixture);
        var refused = assertThrows(IllegalArgumentException.class, () -> Predictor.load(CPU, hub));
        assertTrue(refused.getMessage().contains("the number of attention heads is in neither"), refused.getMessage());
        Files.writeString(hub.resolve("config.json"), """
                {"architecture": "vit_tiny_patch16_224", "num_classes": 10, "global_pool": "token",
                 "model_args": {"img_size": 28, "patch_size": 7, "in_chans": 1, "embed_dim": 48, "depth": 3, "num_heads": 3},
                 "pretrained_cfg": {"input_size": [1, 28, 28], "mean": [0.25], "std": [0.5], "interpolation": "bilinear", "crop_pct": 0.9,
                   "label_names": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}}
                """);
        try (SafetensorsFile fx = SafetensorsFile.open(fixture); Predictor p = Predictor.load(CPU, hub)) {
            ImageClassifier c = assertInstanceOf(ImageClassifier.class, p);
            assertEquals(List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"), c.labels());
            assertEquals("1x28x28, bilinear, crop 0.900, mean [0.25], std [0.5]", c.preprocessing().toString());
            float[] got = c.probabilities(fx.floats("io.input"), 4), logits = fx.floats("io.logits"), want = new float[logits.length];
            for (int i = 0; i < 4; i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < 10; j++) max = Math.max(max, logits[i * 10 + j]);
                for (int j = 0; j < 10; j++) sum += Math.exp(logits[i * 10 + j] - max);
                for (int j = 0; j < 10; j++) want[i * 10 + j] = (float) (Math.exp(logits[i * 10 + j] - max) / sum);
            }
            double err = FixtureCheck.relErr(got, want);
            assertTrue(err < 5e-6, "probabilities against timm's logits: relative error " + err);
            // inputs of the wrong size are refused, naming which and what the model takes
            var shape = assertThrows(IllegalArgumentException.class, () -> c.classifyInputs(List.of(new float[784], new float[3 * 784]), 1));
            assertEquals("input 1: 2352 values, the model takes 1x28x28 = 784", shape.getMessage());
        }
        Files.writeString(hub.resolve("config.json"), "{\"architecture\": \"vit_tiny_patch16_224\", ");
        var broken = assertThrows(IllegalArgumentException.class, () -> Predictor.load(CPU, hub));
        assertTrue(broken.getMessage().startsWith(hub.resolve("config.json").toAbsolutePath() + ": not valid JSON"), broken.getMessage());
        Files.writeString(hub.resolve("config.json"), """
                {"architecture": "vit_tiny_patch16_224", "model_args": {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_heads": 3},
                 "pretrained_cfg": {"mean": [0.5], "std": [0.5], "label_names": ["a", "b"]}}
                """);
        var names = assertThrows(IllegalArgumentException.class, () -> Predictor.load(CPU, hub));
        assertEquals(hub.resolve("config.json").toAbsolutePath() + ": label_names has 2 names, the model 10 classes", names.getMessage());
        Files.writeString(hub.resolve("config.json"), """
                {"architecture": "vit_tiny_patch16_224", "model_args": {"img_size": 28, "patch_size": 7, "in_chans": 1, "num_heads": 3}}
                """);
        var grey = assertThrows(IllegalArgumentException.class, () -> Predictor.load(CPU, hub));
        assertTrue(grey.getMessage().endsWith("pretrained_cfg has no mean and std for a model of 1 channels (timm's defaults are for RGB)"), grey.getMessage());
    }

    @Test void aFolderWithoutWeightsAndAnotherFamilysCheckpointAreRefusedClearly() throws Exception {
        var none = assertThrows(java.nio.file.NoSuchFileException.class, () -> Predictor.load(CPU, Files.createDirectories(tmp.resolve("empty"))));
        assertTrue(none.getMessage().contains("a model folder holds model.safetensors"), none.getMessage());
        var missing = assertThrows(java.nio.file.NoSuchFileException.class, () -> Predictor.load(CPU, tmp.resolve("no.safetensors")));
        assertTrue(missing.getMessage().endsWith("no.safetensors (no such checkpoint)"), missing.getMessage());
    }
}
