package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.explain.Explainer;
import dev.fovea.inference.Predictor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code fovea explain}: the library's {@link Explainer} on one image, written as a PNG. */
@Command(name = "explain", description = {"Show what a model sees in an image, as one PNG: LeNet-5's learned C1 kernels, the maps of C1, S2, C3 and S4",
        "and C3's connection table; a ViT's class-token attention to each patch per head and layer, the attention rollout and the",
        "position embeddings' similarities; a scene model's attention to each cell; a captioner's cross-attention of each word.",
        "Last line: explained model=M image=IMAGE out=PNG"})
final class ExplainCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by fovea train, or a timm/Hugging Face model folder") Path weights;
    @Option(names = "--out", required = true, description = "the PNG to write") Path out;
    @Option(names = "--overwrite", description = "replace --out if it exists") boolean overwrite;
    @Parameters(index = "0", paramLabel = "IMAGE", description = "an image file") Path image;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        ImageFiles.refuseToReplace(out, overwrite);
        try (Backend be = engine.open(); Predictor p = Predictor.load(be, weights)) {
            Explainer.Explanation e = Explainer.explain(be, p, Images.read(image));
            ImageFiles.savePng(e.picture(), out);
            System.out.println(e.summary());
            String model = weights.getFileName().toString();
            System.out.println("explained model=" + model + " image=" + image + " out=" + out + " size=" + e.picture().getWidth() + "x" + e.picture().getHeight());
            return 0;
        }
    }
}
