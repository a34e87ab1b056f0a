package dev.fovea.cli;

import dev.fovea.data.ImageDataset;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.io.SafetensorsWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;

import static dev.fovea.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A careless user's mistakes: each ends in one "fovea: error:" line that names the file or option and the cause,
 * exit 2, no stack trace, found before the first training step — and no run is lost.
 */
class HardeningCliTest {
    @TempDir static Path tmp;
    static Path data;

    @BeforeAll static void makeData() throws IOException { data = dataset("data", 128, 64); }

    static String[] train(Path out, String... extra) {
        String[] base = {"train", "--model", "lenet5-full", "--epochs", "1", "--batch", "64", "--threads", "2", "--data", data.toString(), "--out", out.toString()};
        return TrainCliTest.concat(base, extra);
    }

    /** One error line, exit 2, no stack trace; returns the line. */
    static String userError(CliTest.Run r) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        String first = r.err().strip().lines().filter(l -> l.startsWith("fovea: error: ")).findFirst().orElse("");
        assertFalse(first.isEmpty(), "an error line: " + r.err());
        return first;
    }

    @Test void aFinishedRunIsNotReplacedWithoutBeingAsked() throws IOException {
        Path out = tmp.resolve("run");
        assertEquals(0, run(train(out)).code());
        byte[] before = Files.readAllBytes(out.resolve("checkpoint.safetensors"));
        String line = userError(run(train(out, "--seed", "9")));
        assertTrue(line.contains(out + " already holds a run") && line.contains("--resume") && line.contains("--out") && line.contains("--overwrite"), line);
        assertEquals(java.util.Arrays.toString(before), java.util.Arrays.toString(Files.readAllBytes(out.resolve("checkpoint.safetensors"))), "the run is intact");
        assertEquals(0, run(train(out, "--seed", "9", "--overwrite")).code(), "--overwrite replaces it");
        assertFalse(java.util.Arrays.equals(before, Files.readAllBytes(out.resolve("checkpoint.safetensors"))));
    }

    @Test void aPictureOrSceneFolderIsNotReplacedWithoutBeingAsked() throws IOException {
        Path in = tmp.resolve("boot.png"), filtered = tmp.resolve("boot-edge.png");
        ImageFiles.writeGrey(java.util.Arrays.copyOf(ImageDataset.embeddedSample().test().pixels(), 784), 28, 28, in);
        Files.writeString(filtered, "mine");
        String line = userError(run("filter", "--image", in.toString(), "--kernel", "edge"));
        assertEquals("fovea: error: " + filtered + " exists; pass --overwrite to replace it, or another --out", line);
        assertEquals("mine", Files.readString(filtered));
        assertEquals(0, run("filter", "--image", in.toString(), "--kernel", "edge", "--overwrite").code());
        assertEquals(28 - 2, javax.imageio.ImageIO.read(filtered.toFile()).getWidth(), "replaced by the filtered image");

        Path scenes = tmp.resolve("scenes");
        assertEquals(0, run("scenes", "--out", scenes.toString(), "--count", "2", "--test-count", "1").code());
        byte[] annotations = Files.readAllBytes(scenes.resolve("train/annotations.json"));
        line = userError(run("scenes", "--out", scenes.toString(), "--count", "3", "--test-count", "1"));
        assertEquals("fovea: error: " + scenes + " already holds scenes (train/, test/); pass --overwrite to replace them, or another --out", line);
        assertEquals(new String(annotations), Files.readString(scenes.resolve("train/annotations.json")), "the scenes are intact");
        assertEquals(0, run("scenes", "--out", scenes.toString(), "--count", "3", "--test-count", "1", "--overwrite").code());
        assertEquals(3, dev.fovea.data.coco.CocoDataset.read(scenes.resolve("train/annotations.json"), scenes.resolve("train/images")).images().size());
        // replaced by fewer scenes: none of the old ones are left, and no temporary folders either
        assertEquals(0, run("scenes", "--out", scenes.toString(), "--count", "1", "--test-count", "1", "--overwrite").code());
        try (var files = Files.list(scenes.resolve("train/images"))) {
            assertEquals(List.of("000001.png"), files.map(p -> p.getFileName().toString()).toList(), "only the new scene's image");
        }
        try (var files = Files.list(scenes)) {
            assertEquals(List.of("test", "train"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test void anOutputThatCannotBeAFolderIsFoundBeforeTraining() throws IOException {
        Path file = tmp.resolve("a-file");
        Files.writeString(file, "mine");
        String line = userError(run(train(file)));
        assertTrue(line.contains(file.toString()), line);
        assertEquals("mine", Files.readString(file));
    }

    /** An MNIST-format folder of the sample's first {@code train} and {@code test} images, raw IDX. */
    static Path dataset(String name, int train, int test) throws IOException {
        ImageDataset.Splits s = ImageDataset.embeddedSample();
        Path dir = tmp.resolve(name);
        TrainCliTest.writeSplit(dir, "train", s.train(), train, false);
        TrainCliTest.writeSplit(dir, "t10k", s.test(), test, false);
        return dir;
    }

    @Test void badDataIsNamedBeforeTheFirstStep() throws IOException {
        Path empty = dataset("empty-test", 64, 0);
        String line = userError(run("train", "--epochs", "1", "--data", empty.toString(), "--out", tmp.resolve("o1").toString()));
        assertTrue(line.contains("t10k-images") && line.contains("holds no images"), line);
        assertFalse(Files.exists(tmp.resolve("o1/checkpoint.safetensors")));

        Path labels = dataset("bad-label", 64, 64);
        byte[] lb = Files.readAllBytes(labels.resolve("train-labels-idx1-ubyte"));
        lb[8 + 17] = 12;                                               // record 17: label 12 of a 10-class model
        Files.write(labels.resolve("train-labels-idx1-ubyte"), lb);
        line = userError(run("train", "--epochs", "1", "--data", labels.toString(), "--out", tmp.resolve("o2").toString()));
        assertTrue(line.contains("train-labels-idx1-ubyte") && line.contains("record 17 has label 12, but the model has 10 classes"), line);
        assertFalse(Files.exists(tmp.resolve("o2/checkpoint.safetensors")));

        Path sizes = dataset("other-size", 64, 64);
        byte[] im = Files.readAllBytes(sizes.resolve("t10k-images-idx3-ubyte"));
        java.nio.ByteBuffer.wrap(im).putInt(8, 56).putInt(12, 14);   // the same bytes read as 56x14 images
        Files.write(sizes.resolve("t10k-images-idx3-ubyte"), im);
        line = userError(run("train", "--epochs", "1", "--data", sizes.toString(), "--out", tmp.resolve("o3").toString()));
        assertTrue(line.contains("test images are 56x14, the training images") && line.contains("28x28"), line);
    }

    /** A LeNet-5 checkpoint trained here once. */
    static Path checkpoint() throws IOException {
        Path out = tmp.resolve("base");
        if (!Files.exists(out.resolve("checkpoint.safetensors"))) assertEquals(0, run(train(out)).code());
        return out.resolve("checkpoint.safetensors");
    }

    @Test void weightsHoldingNaNAreRefusedNamingTheTensor() throws IOException {
        Path src = checkpoint(), bad = tmp.resolve("nan.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            SafetensorsWriter w = new SafetensorsWriter();
            f.metadata().forEach(w::metadata);
            for (String n : f.names()) {
                float[] v = f.floats(n);
                if (n.equals("f6.weight")) v[3] = Float.NaN;
                w.putFloats(n, v, f.entry(n).shape());
            }
            w.write(bad);
        }
        String line = userError(run("eval", "--weights", bad.toString(), "--data", data.toString()));
        assertTrue(line.contains(bad.toString()) && line.contains("f6.weight") && line.contains("NaN"), line);
        Path png = tmp.resolve("grey.png");
        ImageFiles.writeGrey(new byte[28 * 28], 28, 28, png);
        line = userError(run("predict", "--weights", bad.toString(), png.toString()));
        assertTrue(line.contains("f6.weight"), line);
    }

    @Test void filesThatAreMissingOrFoldersAreNamedWithTheCause() throws IOException {
        Path missing = tmp.resolve("missing.safetensors");
        assertEquals("fovea: error: " + missing + ": no such file", userError(run("eval", "--weights", missing.toString(), "--data", data.toString())));
        assertEquals("fovea: error: " + tmp + ": a folder, not a safetensors file", userError(run("eval", "--weights", tmp.toString(), "--data", data.toString())));
        assertEquals("fovea: error: " + missing + ": no such file", userError(run("train", "--resume", missing.toString(), "--data", data.toString())));
        String line = userError(run("train", "--epochs", "1", "--data", dataset("empty-train", 0, 16).toString(), "--out", tmp.resolve("o4").toString()));
        assertTrue(line.contains("train-images") && line.contains("holds no images"), line);
    }

    @Test void evalReadsOnlyTheTestSplitAndCheckpointsAreReadableLikeOtherOutputs() throws IOException {
        Path ckpt = checkpoint(), onlyTest = tmp.resolve("only-test");
        Files.createDirectories(onlyTest);
        for (String n : new String[]{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) Files.copy(data.resolve(n), onlyTest.resolve(n));
        CliTest.Run r = run("eval", "--weights", ckpt.toString(), "--data", onlyTest.toString());
        assertEquals(0, r.code(), r.err());
        if (ckpt.getFileSystem().supportedFileAttributeViews().contains("posix"))
            assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(ckpt)));
    }

    @Test void optionsOutOfRangeAreOneLineEach() {
        Path out = tmp.resolve("never");
        assertTrue(userError(run(train(out, "--momentum", "NaN"))).contains("--momentum must be in [0, 1), got NaN"));
        assertTrue(userError(run(train(out, "--weight-decay", "-5"))).contains("--weight-decay must be a finite number >= 0, got -5.0"));
        assertTrue(userError(run("train", "--epochs", "1", "--data", data.toString(), "--out", out.toString(), "--threads", "1000")).contains("--threads 1000 is more than 4 times"));
        CliTest.Run nan = run(train(out, "--lr", "NaN"));
        assertTrue(userError(nan).contains("--lr must be a positive number"), nan.err());
        CliTest.Run typo = run("train", "--epoch", "3");
        String line = userError(typo);
        assertTrue(line.contains("--epoch"), line);
        assertTrue(typo.err().strip().lines().count() <= 3, "one line and a pointer to --help, not the usage: " + typo.err());
        assertFalse(Files.exists(out.resolve("checkpoint.safetensors")));
    }

    @Test void imagesThatCannotBeWrittenOrAreTooLargeAreNamed() throws IOException {
        Path png = tmp.resolve("in.png");
        ImageFiles.writeGrey(new byte[28 * 28], 28, 28, png);
        Path nowhere = tmp.resolve("no-such-folder/out.png");
        String line = userError(run("filter", "--kernel", "edge", "--image", png.toString(), "--out", nowhere.toString()));
        assertTrue(line.contains(nowhere.toString()) && line.contains("does not exist"), line);

        Path huge = tmp.resolve("huge.png");
        Files.write(huge, pngHeader(20000, 20000));
        line = userError(run("predict", "--weights", checkpoint().toString(), huge.toString()));
        assertTrue(line.contains(huge.toString()) && line.contains("20000x20000") && line.contains("50000000"), line);
    }

    /** A PNG signature and IHDR chunk claiming width × height (8-bit grey): enough for a reader to report the size. */
    static byte[] pngHeader(int width, int height) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream chunk = new ByteArrayOutputStream();
        DataOutputStream c = new DataOutputStream(chunk);
        c.write("IHDR".getBytes(StandardCharsets.US_ASCII));
        c.writeInt(width);
        c.writeInt(height);
        c.write(new byte[]{8, 0, 0, 0, 0});
        byte[] body = chunk.toByteArray();
        out.writeInt(body.length - 4);
        out.write(body);
        CRC32 crc = new CRC32();
        crc.update(body);
        out.writeInt((int) crc.getValue());
        return bytes.toByteArray();
    }

    @Test void aChartThatCannotBeWrittenIsAWarningNotAnEnd() throws IOException {
        Path out = tmp.resolve("chartless");
        Files.createDirectories(out.resolve("metrics.png"));                 // a folder where the chart goes
        CliTest.Run r = run(train(out));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("fovea: warning: could not draw " + out.resolve("metrics.png")), r.err());
        assertTrue(Files.exists(out.resolve("checkpoint.safetensors")) && Files.exists(out.resolve("metrics.csv")));
        assertFalse(Files.exists(out.resolve("metrics.png.tmp")), "no temporary file left behind");
    }

    /** A copy of {@code src} with tensor {@code flatten} made one-dimensional and metadata {@code drop} left out. */
    static Path rewrite(Path src, Path dst, String flatten, String drop) throws IOException { return rewrite(src, dst, flatten, drop, null); }

    /** ... and metadata {@code replace[0]} set to {@code replace[1]}. */
    static Path rewrite(Path src, Path dst, String flatten, String drop, String[] replace) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            SafetensorsWriter w = new SafetensorsWriter();
            f.metadata().forEach((k, v) -> {
                if (k.equals(drop)) return;
                w.metadata(k, replace != null && k.equals(replace[0]) ? replace[1] : v);
            });
            for (String n : f.names()) {
                if (n.equals("io.labels")) { w.putLongs(n, f.longs(n), f.entry(n).shape()); continue; }
                float[] v = f.floats(n);
                w.putFloats(n, v, n.equals(flatten) ? new int[]{v.length} : f.entry(n).shape());
            }
            w.write(dst);
        }
        return dst;
    }

    @Test void aFixtureWithATensorOfAnotherRankOrNoHeadCountIsNamed() throws Exception {
        Path src = Path.of(HardeningCliTest.class.getResource("/fixtures/vit_tiny_c1_28.safetensors").toURI());
        for (String name : new String[]{"io.input", "patch_embed.proj.weight"}) {
            Path bad = rewrite(src, tmp.resolve("rank-" + name + ".safetensors"), name, null);
            String line = userError(run("check", "--weights", bad.toString()));
            assertTrue(line.contains(bad.toString()) && line.contains(name + " has shape [") && line.contains("expected 4 dimensions"), line);
        }
        Path headless = rewrite(src, tmp.resolve("no-heads.safetensors"), null, "num_heads");
        String line = userError(run("check", "--weights", headless.toString()));
        assertTrue(line.contains(headless + ": the number of attention heads is in neither its metadata"), line);
        Path flatLogits = rewrite(src, tmp.resolve("flat-logits.safetensors"), "io.logits", null);
        line = userError(run("check", "--weights", flatLogits.toString()));
        assertTrue(line.contains(flatLogits + ": io.logits has shape [") && line.contains("but the model computed ["), line);
    }

    @Test void aCheckpointWithBrokenHistoryIsNamed() throws IOException {
        Path bad = rewrite(checkpoint(), tmp.resolve("history.safetensors"), null, null, new String[]{"history", "1,2,3"});
        String line = userError(run("eval", "--weights", bad.toString(), "--data", data.toString()));
        assertTrue(line.contains(bad + ": bad \"history\" in the checkpoint's metadata: metrics line needs 8 fields"), line);
    }
}
