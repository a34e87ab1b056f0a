package dev.fovea.cli;

import dev.fovea.data.ImageDataset;
import dev.fovea.models.LeNet5;
import dev.fovea.optim.Optimizer;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tasks.SceneData;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.ClassificationTask;
import dev.fovea.train.TrainConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static dev.fovea.testing.Bed.dims;
import static dev.fovea.testing.Bed.property;
import static dev.fovea.testing.Bed.r;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fuzzing the readers the CLI uses with QuickTheories-generated corruptions of real files — a truncation, a flipped
 * bit, eight random bytes — of a checkpoint (safetensors), an IDX image file, a COCO annotations file and a PNG.
 * Every corrupted file is either read as a valid file of its kind or refused with an error the CLI reports in one
 * line (an I/O or argument error whose message names the file); never another exception, and never a hang. A
 * truncated checkpoint or IDX file is always refused (their sizes are explicit).
 */
class CorruptFilesTest {
    @TempDir static Path tmp;
    static Path checkpoint, idx, coco, png;
    static final ReferenceBackend BE = new ReferenceBackend();

    @BeforeAll static void realFiles() throws IOException {
        checkpoint = tmp.resolve("lenet5.safetensors");
        TrainConfig cfg = TrainConfig.builder("lenet5-full").build();
        try (LeNet5 m = LeNet5.create(BE, LeNet5.Variant.FULL, 1); Optimizer opt = cfg.newOptimizer(BE, m)) {
            Checkpoint.save(checkpoint, m, opt, cfg, 1, 10, List.of());
        }
        idx = tmp.resolve("idx");
        ImageDataset.Splits s = ImageDataset.embeddedSample();
        TrainCliTest.writeSplit(idx, "train", s.train(), 16, false);
        TrainCliTest.writeSplit(idx, "t10k", s.test(), 8, false);
        Path scenes = tmp.resolve("scenes");
        if (Main.run("scenes", "--out", scenes.toString(), "--count", "4", "--test-count", "2", "--seed", "3") != 0) fail("scenes");
        coco = scenes.resolve("train");
        png = coco.resolve("images/000001.png");
    }

    /** A corrupted copy of {@code original} in a fresh folder laid out as {@code layout} wants it; d = {kind, position, byte}. */
    static Path corrupt(Path original, int[] d, java.util.function.Function<Path, Path> layout) throws IOException {
        byte[] b = Files.readAllBytes(original);
        int at = (int) ((long) d[1] * b.length / 1_000_000);
        byte[] out = switch (d[0]) {
            case 0 -> java.util.Arrays.copyOf(b, at);                                    // truncated
            case 1 -> { b[at] ^= (byte) (1 << (d[2] & 7)); yield b; }                    // one bit flipped
            default -> {                                                                 // eight random bytes
                SplittableRandom r = new SplittableRandom(d[2]);
                for (int i = at; i < Math.min(b.length, at + 8); i++) b[i] = (byte) r.nextInt(256);
                yield b;
            }
        };
        Path dir = Files.createTempDirectory(tmp, "case");
        Path file = layout.apply(dir);
        Files.createDirectories(file.getParent());
        Files.write(file, out);
        return file;
    }

    interface Reader { void read(Path file) throws Exception; }

    /** Reads {@code file}; a refusal must be one the CLI prints as a user error naming the file. Returns whether it was read. */
    static boolean readOrRefuse(Path file, Reader reader) {
        try {
            reader.read(file);
            return true;
        } catch (Throwable e) {
            if (!Main.isUserError(e)) throw new AssertionError(file + ": " + e + " is not an error the CLI reports in one line", e);
            String line = Main.describe(e);
            assertTrue(line.contains(file.getFileName().toString()) || line.contains(file.getParent().getFileName().toString()),
                    "the error names the file: " + line);
            return false;
        }
    }

    record Kind(String name, Path original, java.util.function.Function<Path, Path> layout, Reader reader, boolean truncationRefused) {}

    @TestFactory @Timeout(120) List<DynamicTest> corruptionsAreReadOrRefusedClearly() {
        List<Kind> kinds = List.of(
                new Kind("checkpoint (safetensors)", checkpoint, d -> d.resolve("c.safetensors"), f -> ClassificationTask.load(BE, f).close(), true),
                new Kind("IDX images", idx.resolve("train-images-idx3-ubyte"), d -> copyLabels(d).resolve("train-images-idx3-ubyte"),
                        f -> ImageDataset.load(f.getParent()), true),
                new Kind("COCO annotations", coco.resolve("annotations.json"), d -> linkImages(d).resolve("annotations.json"),
                        f -> SceneData.load(f.getParent(), null, true), false),
                new Kind("PNG", png, d -> d.resolve("i.png"), dev.fovea.data.Images::read, false));
        List<DynamicTest> tests = new java.util.ArrayList<>();
        for (Kind k : kinds)
            tests.add(property("corrupted " + k.name(), 60, dims(r(0, 2), r(0, 999_999), r(0, 255)), d -> {
                try {
                    Path f = corrupt(k.original(), d, k.layout());
                    boolean read = readOrRefuse(f, k.reader());
                    if (d[0] == 0 && k.truncationRefused()) assertTrue(!read, f + ": a truncated file was read as valid");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }));
        return tests;
    }

    /** The IDX folder's other three files beside the corrupted one. */
    static Path copyLabels(Path dir) {
        try {
            for (String n : new String[]{"train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
                Files.copy(idx.resolve(n), dir.resolve(n));
            return dir;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The COCO split's images and masks beside the corrupted annotations. */
    static Path linkImages(Path dir) {
        try {
            for (String n : new String[]{"images", "masks"})
                if (Files.exists(coco.resolve(n))) Files.createSymbolicLink(dir.resolve(n), coco.resolve(n));
            return dir;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
