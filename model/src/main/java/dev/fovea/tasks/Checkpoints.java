package dev.fovea.tasks;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.Models;
import dev.fovea.models.VisionTransformer;
import dev.fovea.nn.Module;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Rebuilds any model Fovea trains from its training checkpoint, without the CLI: the checkpoint's metadata says
 * which family it is and how large, the family's config reads itself back, and the parameters are loaded. For what
 * a family needs beside the model (a scene model's categories and pixel normalisation, a captioner's vocabulary, a
 * generator's judge) use the family's own loader: {@link ClassificationTask#load}, {@link SceneTask#load},
 * {@link CaptionTask#load}, {@link GenerationTask#load}.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /**
     * The model of {@code file}: a classifier (LeNet-5, ViT), a ViT with its masked-pretraining head, a scene model,
     * a captioner or a generator, its parameters loaded; the caller owns (closes) it.
     */
    public static Module load(Backend be, Path file) throws IOException {
        String task = Checkpoint.task(file);
        if ("caption".equals(task)) return CaptionTask.load(be, file).net();
        if ("generate".equals(task)) return GenerationTask.load(be, file).net();
        if (task != null) return SceneTask.load(be, file).net();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            if (Models.VIT_PRETRAIN.equals(Checkpoint.info(f).config().model())) {
                VisionTransformer vit = (VisionTransformer) Models.create(be, "vit", null, 1);
                MaskedPretraining.attachHead(be, vit, 1);
                return Checkpoint.loadModel(f, vit, be);
            }
        }
        return ClassificationTask.load(be, file).model();
    }
}
