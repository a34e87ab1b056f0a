package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.tasks.CaptionTask;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code fovea caption}: a caption for each image file, from a captioning checkpoint. */
@Command(name = "caption", description = {"Caption image files with a checkpoint of train --task caption (greedy decoding, key/value cache).",
        "Images are converted to the model's size and channels (and said so). Prints IMAGE: caption per image."})
final class CaptionCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by train --task caption") Path weights;
    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files") List<Path> images;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        try (Backend be = engine.open(); CaptionTask.Loaded w = CaptionTask.load(be, weights)) {
            var c = w.net().config();
            int s = c.imgSize(), n = c.inChans() * s * s;
            for (Path p : images) {
                BufferedImage img = ImageFiles.read(p);
                if (img.getWidth() != s || img.getHeight() != s) {
                    System.out.println("note: " + p + ": converted: resized " + img.getWidth() + "x" + img.getHeight() + " to " + s + "x" + s);
                    img = ImageFiles.resize(img, s, s);
                }
                float[] px = ImageFiles.planes(img, c.inChans() == 1).data(), x = new float[n];
                for (int i = 0; i < n; i++) x[i] = (px[i] / 255f - w.stats()[0]) / w.stats()[1];
                System.out.println(p + ": " + w.vocab().decode(w.net().caption(be, x, 1, true)[0]));
            }
            return 0;
        }
    }
}
