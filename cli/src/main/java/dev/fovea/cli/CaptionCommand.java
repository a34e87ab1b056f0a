package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.data.Images;
import dev.fovea.data.Preprocessing;
import dev.fovea.inference.ImageCaptioner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code fovea caption}: a caption for each image file, by the library's {@link ImageCaptioner}. */
@Command(name = "caption", description = {"Caption image files with a checkpoint of train --task caption (greedy decoding, key/value cache).",
        "Images are converted to the model's size and channels (and said so). Prints IMAGE: caption per image."})
final class CaptionCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "a checkpoint written by train --task caption") Path weights;
    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files") List<Path> images;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        try (Backend be = engine.open(); ImageCaptioner c = ImageCaptioner.load(be, weights)) {
            for (Path p : images) {
                Preprocessing.Input in = c.preprocessing().prepare(Images.read(p));
                if (!in.notes().isEmpty()) System.out.println("note: " + p + ": converted: " + String.join(", ", in.notes()));
                System.out.println(p + ": " + c.caption(List.of(in)).getFirst());
            }
            return 0;
        }
    }
}
