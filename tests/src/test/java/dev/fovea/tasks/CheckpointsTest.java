package dev.fovea.tasks;

import dev.fovea.autograd.Var;
import dev.fovea.data.ImageTokens;
import dev.fovea.data.coco.CocoDataset;
import dev.fovea.models.Captioner;
import dev.fovea.models.ImageGenerator;
import dev.fovea.models.LeNet5;
import dev.fovea.models.Models;
import dev.fovea.models.SceneNet;
import dev.fovea.models.VisionTransformer;
import dev.fovea.nn.Module;
import dev.fovea.optim.Optimizer;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.text.Vocabulary;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.TrainConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** {@link Checkpoints#load} rebuilds every family's model from a checkpoint alone, parameters and all. */
class CheckpointsTest {
    static final ReferenceBackend BE = new ReferenceBackend();
    @TempDir Path tmp;

    @AfterAll static void close() { BE.close(); }

    /** Saves {@code m} as a training checkpoint (seed 7), loads it back, and checks the type and every parameter. */
    <M extends Module> void roundTrip(String name, M m, TrainConfig cfg, Map<String, String> extra, Class<?> type) throws IOException {
        Path file = tmp.resolve(name + ".safetensors");
        try (m; Optimizer opt = cfg.newOptimizer(BE, m)) {
            Checkpoint.save(file, m, opt, cfg, 1, 1, List.of(), extra);
            try (Module back = Checkpoints.load(BE, file)) {
                assertInstanceOf(type, back, name);
                Map<String, Var> want = m.namedParameters(), got = back.namedParameters();
                assertEquals(want.keySet(), got.keySet(), name);
                for (String p : want.keySet()) assertArrayEquals(want.get(p).value().toArray(), got.get(p).value().toArray(), name + ": " + p);
            }
        }
    }

    @Test void everyFamilyComesBackFromItsCheckpoint() throws IOException {
        roundTrip("lenet5", LeNet5.create(BE, LeNet5.Variant.PAPER, 7), TrainConfig.builder("lenet5").seed(7L).build(), Map.of(), LeNet5.class);
        roundTrip("vit", Models.create(BE, "vit", null, 7, 5), TrainConfig.builder("vit").seed(7L).classes(5).build(), Map.of(), VisionTransformer.class);

        VisionTransformer pre = (VisionTransformer) Models.create(BE, "vit", null, 7);
        MaskedPretraining.attachHead(BE, pre, 7);
        roundTrip("pretrain", pre, TrainConfig.builder(Models.VIT_PRETRAIN).seed(7L).build(), Map.of("mask_ratio", "0.5"), VisionTransformer.class);

        SceneNet.Config sc = new SceneNet.Config(16, 1, 2, 16, 1, 2, true, true, false);   // instance segmentation: no image-level head
        TaskSpec spec = new TaskSpec(Task.INSTANCE, sc, List.of(new CocoDataset.Category(1, "bag"), new CocoDataset.Category(4, "coat")), 0.2f, 0.3f);
        roundTrip("scene", new SceneNet(BE, sc, 7), SceneTask.defaults(Task.INSTANCE).seed(7L).build(), spec.toMetadata(), SceneNet.class);

        Vocabulary v = Vocabulary.build(List.of("a bag at the top", "a coat at the top", "a bag at the left"), 1);
        Captioner.Config cc = new Captioner.Config(16, 1, 16, 1, 2, 1, v.size(), 8);
        roundTrip("caption", new Captioner(BE, cc, 7), TrainConfig.builder(CaptionTask.MODEL).seed(7L).build(),
                CaptionTask.metadata(cc, v, new float[]{0.2f, 0.3f}), Captioner.class);

        ImageGenerator.Config gc = new ImageGenerator.Config(ImageTokens.FASHION, 10, 16, 1, 2);
        roundTrip("generate", new ImageGenerator(BE, gc, 7), TrainConfig.builder(GenerationTask.MODEL).seed(7L).build(),
                GenerationTask.metadata(gc, tmp.resolve("judge.safetensors"), dev.fovea.data.ClassNames.numbered(gc.classes())), ImageGenerator.class);
    }
}
