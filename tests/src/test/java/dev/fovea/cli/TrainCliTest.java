package dev.fovea.cli;

import dev.fovea.data.ImageDataset;
import dev.fovea.io.SafetensorsFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

import static dev.fovea.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train / eval / bench train as a user runs them, on a small MNIST-format directory cut from the embedded sample. */
class TrainCliTest {
    @TempDir static Path tmp;
    static Path data;

    @BeforeAll static void makeData() throws IOException {
        ImageDataset.Splits s = ImageDataset.embeddedSample();
        data = tmp.resolve("data");
        writeSplit(data, "train", s.train(), 640, true);
        writeSplit(data, "t10k", s.test(), 200, false);
        Files.write(data.resolve(ImageDataset.LABELS_FILE), java.util.List.of(ImageDataset.FASHION_CLASSES));   // the classes' names
    }

    /** The first n records in IDX, gzip-compressed or raw. */
    static void writeSplit(Path dir, String split, ImageDataset d, int n, boolean gzip) throws IOException {
        Files.createDirectories(dir);
        ByteBuffer im = ByteBuffer.allocate(16 + n * 784).putInt(0x803).putInt(n).putInt(28).putInt(28).put(d.pixels(), 0, n * 784);
        ByteBuffer lb = ByteBuffer.allocate(8 + n).putInt(0x801).putInt(n).put(d.labels(), 0, n);
        write(dir.resolve(split + "-images-idx3-ubyte" + (gzip ? ".gz" : "")), im.array(), gzip);
        write(dir.resolve(split + "-labels-idx1-ubyte" + (gzip ? ".gz" : "")), lb.array(), gzip);
    }

    static void write(Path p, byte[] bytes, boolean gzip) throws IOException {
        try (OutputStream o = gzip ? new GZIPOutputStream(Files.newOutputStream(p)) : Files.newOutputStream(p)) { o.write(bytes); }
    }

    static String[] train(String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("train", "--model", "lenet5", "--batch", "64", "--threads", "2", "--data", data.toString(), "--seed", "5"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    /** metrics.csv without the timing columns (images/s, seconds). */
    static List<String> curve(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve("metrics.csv")).stream().map(l -> {
            String[] f = l.split(",");
            return String.join(",", f[0], f[1], f[2], f[3], f[4], f[7]);
        }).toList();
    }

    @Test void trainWritesCheckpointMetricsAndChartAndEndsWithTheSummaryLine() throws IOException {
        Path out = tmp.resolve("plain");
        CliTest.Run r = run(train("--epochs", "2", "--out", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("data: " + data), r.out());
        assertTrue(r.out().contains("60,850 parameters"), r.out());
        assertTrue(Pattern.matches("trained model=lenet5 epochs=2 test_accuracy=0\\.[0-9]{4} images_per_s=[0-9]+ checkpoint=" + Pattern.quote(out.resolve("checkpoint.safetensors").toString()), r.lastLine()), r.lastLine());
        assertEquals(3, Files.readAllLines(out.resolve("metrics.csv")).size());
        assertTrue(Files.size(out.resolve("metrics.png")) > 1000);
        double acc = Double.parseDouble(r.lastLine().replaceAll(".*test_accuracy=([0-9.]+).*", "$1"));
        assertTrue(acc > 0.3, "two epochs on 640 images learn something: " + acc);

        CliTest.Run ev = run("eval", "--weights", out.resolve("checkpoint.safetensors").toString(), "--data", data.toString(), "--threads", "2");
        assertEquals(0, ev.code(), ev.err());
        assertTrue(ev.out().contains("true\\pred"), ev.out());
        assertEquals(String.format(java.util.Locale.ROOT, "eval model=lenet5 images=200 loss=%s accuracy=%.4f", ev.lastLine().replaceAll(".*loss=([0-9.]+).*", "$1"), acc), ev.lastLine());
    }

    @Test void resumedRunMatchesAnUninterruptedOne() throws IOException {
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        assertEquals(0, run(train("--epochs", "3", "--out", whole.toString())).code());
        CliTest.Run first = run(train("--epochs", "3", "--stop-after", "1", "--out", parts.toString()));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("stopped after epoch 1 of 3"), first.out());
        CliTest.Run rest = run("train", "--resume", parts.resolve("checkpoint.safetensors").toString(), "--epochs", "3", "--threads", "2",
                "--data", data.toString(), "--out", parts.toString());
        assertEquals(0, rest.code(), rest.err());
        assertTrue(rest.out().contains("resumed: "), rest.out());
        assertSameRun(whole, parts);
        try (SafetensorsFile a = SafetensorsFile.open(whole.resolve("checkpoint.safetensors"))) {
            assertTrue(a.names().contains("optim.c3.weight.momentum"), a.names().toString());
        }
    }

    /** Two runs in DIRs with the same epochs' numbers, the same parameters and the same optimizer state, bit for bit. */
    static void assertSameRun(Path whole, Path parts) throws IOException {
        assertEquals(curve(whole), curve(parts), "same losses and accuracies, epoch by epoch");
        try (SafetensorsFile a = SafetensorsFile.open(whole.resolve("checkpoint.safetensors"));
             SafetensorsFile b = SafetensorsFile.open(parts.resolve("checkpoint.safetensors"))) {
            assertEquals(a.names(), b.names());
            for (String n : a.names()) assertArrayEquals(a.floats(n), b.floats(n), n + " differs");
            assertEquals(a.metadata().get("steps"), b.metadata().get("steps"));
        }
    }

    @Test void pretrainingResumesToTheSameNumbers() throws IOException {
        Path whole = tmp.resolve("pre-whole"), parts = tmp.resolve("pre-parts");
        String[] common = {"pretrain", "--data", data.toString(), "--limit", "96", "--batch", "32", "--epochs", "2", "--threads", "2"};
        assertEquals(0, run(concat(common, "--out", whole.toString())).code());
        CliTest.Run first = run(concat(common, "--stop-after", "1", "--out", parts.toString()));
        assertEquals(0, first.code(), first.err());
        CliTest.Run rest = run("pretrain", "--resume", parts.resolve("checkpoint.safetensors").toString(), "--data", data.toString(), "--limit", "96", "--threads", "2");
        assertEquals(0, rest.code(), rest.err());
        assertTrue(rest.lastLine().startsWith("pretrained model=vit mask_ratio=0.5 epochs=2 ") && rest.lastLine().endsWith("checkpoint=" + parts.toAbsolutePath().resolve("checkpoint.safetensors")),
                "without --out a resumed run writes beside its checkpoint: " + rest.lastLine());
        assertSameRun(whole, parts);
    }

    @Test void generationResumesToTheSameNumbers() throws IOException {
        Path whole = tmp.resolve("gen-whole"), parts = tmp.resolve("gen-parts");
        String[] common = {"train", "--task", "generate", "--data", data.toString(), "--limit", "64", "--epochs", "2", "--batch", "32", "--samples", "10",
                "--threads", "2"};
        assertEquals(0, run(concat(common, "--out", whole.toString())).code());
        String judge = whole.resolve("classifier/checkpoint.safetensors").toString();
        CliTest.Run first = run(concat(common, "--stop-after", "1", "--classifier", judge, "--out", parts.toString()));
        assertEquals(0, first.code(), first.err());
        CliTest.Run rest = run("train", "--resume", parts.resolve("checkpoint.safetensors").toString(), "--data", data.toString(), "--limit", "64",
                "--samples", "10", "--threads", "2");
        assertEquals(0, rest.code(), rest.err());
        assertTrue(rest.out().contains("resumed: "), rest.out());
        assertTrue(rest.lastLine().startsWith("trained task=generate epochs=2 "), rest.lastLine());
        assertSameRun(whole, parts);
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test void nonFiniteLossStopsNamingTheStepAndWritesNoCheckpoint() {
        Path out = tmp.resolve("diverged");
        CliTest.Run r = run(train("--epochs", "1", "--lr", "1e38", "--schedule", "constant", "--out", out.toString()));
        assertEquals(3, r.code(), r.out());
        assertTrue(Pattern.compile("fovea: error: loss became (NaN|Infinity|-Infinity) at step [0-9]+ \\(epoch 1\\)").matcher(r.err()).find(), r.err());
        assertTrue(r.err().contains("no checkpoint of this run was written"), r.err());
        assertFalse(Files.exists(out.resolve("checkpoint.safetensors")));
        assertFalse(r.err().contains("\tat "), "no stack trace");
    }

    @Test void benchTrainEndsWithTheSummaryLine() {
        CliTest.Run r = run("bench", "train", "--model", "lenet5-full", "--batch", "32", "--threads", "2", "--data", data.toString(),
                "--warmup", "0.2", "--seconds", "0.2", "--repeats", "1", "--profile");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("conv2d [32, 1, 28, 28] → [32, 6, 28, 28] forward") && r.out().contains("conv2d [32, 6, 14, 14] → [32, 16, 10, 10] backward"), r.out());
        assertTrue(Pattern.matches("train model=lenet5-full batch=32 threads=2 images_per_s=[0-9]+", r.lastLine()), r.lastLine());
    }

    /**
     * The PyTorch side's protocol, against a stand-in that answers as tools/bench-train-torch.py does (the real one needs
     * torch, which CI does not install): windows alternate and the line carries both rates; a stand-in whose model has
     * other parameters, a python without torch and a python that is not there are one-line errors.
     */
    @Test void benchTrainAlternatesWithThePyTorchSide() throws IOException {
        Path fake = tmp.resolve("fake-python"), other = tmp.resolve("other-python");
        String serve = "while read cmd s; do case $cmd in warmup) echo ok;; window) echo 'rate 1000.000';; quit) exit 0;; esac; done\n";
        Files.writeString(fake, "#!/bin/sh\necho 'ready torch=fake threads=2 parameters=61706'\n" + serve);
        Files.writeString(other, "#!/bin/sh\necho 'ready torch=fake threads=2 parameters=12'\n" + serve);
        for (Path p : List.of(fake, other)) p.toFile().setExecutable(true);
        String[] common = {"bench", "train", "--model", "lenet5-full", "--batch", "32", "--threads", "2", "--data", data.toString(), "--warmup", "0.2",
                "--seconds", "0.2", "--repeats", "2", "--pytorch"};
        CliTest.Run r = run(concat(common, fake.toString()));
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.out().lines().filter(l -> l.matches("  repeat [12]: fovea [0-9]+, pytorch 1000 images/s \\([0-9.]+x\\)")).count(), r.out());
        assertTrue(Pattern.matches("train model=lenet5-full batch=32 threads=2 images_per_s=[0-9]+ pytorch=1000 ratio=[0-9.]+", r.lastLine()), r.lastLine());
        CliTest.Run mismatch = run(concat(common, other.toString()));
        assertEquals(1, mismatch.code(), mismatch.err());
        assertTrue(mismatch.err().contains("PyTorch's lenet5-full is not Fovea's") && mismatch.err().contains("61706 parameters"), mismatch.err());
        CliTest.Run noTorch = run(concat(common, "python3"));
        assertEquals(2, noTorch.code(), noTorch.err());
        assertTrue(noTorch.err().contains("torch installed?") && noTorch.err().contains("No module named 'torch'"), noTorch.err());
        CliTest.Run none = run(concat(common, tmp.resolve("no-python").toString()));
        assertEquals(2, none.code(), none.err());
        assertTrue(none.err().contains(": cannot run it"), none.err());
        assertFalse(none.err().contains("\tat "), "no stack trace");
    }

    @Test void benchSoakSamplesFlatMemory() {
        CliTest.Run r = run("bench", "soak", "--model", "lenet5-full", "--steps", "30", "--every", "10", "--batch", "32", "--threads", "2", "--data", data.toString());
        assertEquals(0, r.code(), r.err());
        java.util.regex.Matcher m = Pattern.compile("soak model=lenet5-full steps=30 tensors_bytes=([0-9]+)\\.\\.([0-9]+) \\(max ([0-9]+)\\) heap_mb=.*").matcher(r.lastLine());
        assertTrue(m.matches(), r.lastLine());
        assertEquals(m.group(1), m.group(2), "the live tensors after step 1 and after step 30: parameters, gradients, momentum");
        assertEquals(m.group(1), m.group(3));
    }

    @Test void badDataIsNamedWithFileAndOffset() throws IOException {
        ImageDataset.Splits s = ImageDataset.embeddedSample();
        Path bad = tmp.resolve("badmagic");
        writeSplit(bad, "train", s.train(), 64, false);
        writeSplit(bad, "t10k", s.test(), 64, false);
        Path im = bad.resolve("train-images-idx3-ubyte");
        byte[] b = Files.readAllBytes(im);
        b[0] = 0x12;
        Files.write(im, b);
        CliTest.Run r = run(train("--epochs", "1", "--out", tmp.resolve("x").toString()).clone());
        // the run above uses the good data; now the broken directory
        CliTest.Run magic = run("train", "--data", bad.toString(), "--epochs", "1", "--out", tmp.resolve("x").toString());
        assertEquals(2, magic.code());
        assertEquals("fovea: error: " + im + ": byte 0: wrong magic 0x12000803: an IDX file starts with two zero bytes", magic.err().strip());

        b[0] = 0;
        Files.write(im, Arrays.copyOf(b, b.length - 100));
        CliTest.Run trunc = run("train", "--data", bad.toString(), "--epochs", "1", "--out", tmp.resolve("x2").toString());
        assertEquals(2, trunc.code());
        assertTrue(trunc.err().contains(im + ": byte " + (b.length - 100) + ": truncated"), trunc.err());

        Files.write(im, b);
        Path lb = bad.resolve("train-labels-idx1-ubyte");
        byte[] l = Files.readAllBytes(lb);
        ByteBuffer.wrap(l).putInt(4, 63);
        Files.write(lb, Arrays.copyOf(l, l.length - 1));
        CliTest.Run count = run("train", "--data", bad.toString(), "--epochs", "1", "--out", tmp.resolve("x").toString());
        assertEquals(2, count.code());
        assertTrue(count.err().contains("count mismatch: 64 images but 63 labels"), count.err());
        assertEquals(0, r.code());
    }

    @Test void unknownOptionsAndBackendsAreClearErrors() {
        CliTest.Run unknown = run("train", "--bogus");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("Unknown option: '--bogus'"), unknown.err());
        CliTest.Run cuda = run(train("--epochs", "1", "--backend", "cuda", "--out", tmp.resolve("c").toString()));
        assertEquals(2, cuda.code());
        assertTrue(cuda.err().startsWith("fovea: error: cuda backend unavailable"), cuda.err());
        CliTest.Run model = run("train", "--model", "alexnet");
        assertEquals(2, model.code());
        assertEquals("fovea: error: unknown model 'alexnet', expected one of lenet5, lenet5-full, vit", model.err().strip());
    }

    @Test void aDataFolderNamesItsClassesInLabelsTxt() throws IOException {
        ImageDataset.Splits named = ImageDataset.load(data);
        assertEquals(List.of(ImageDataset.FASHION_CLASSES), named.train().names());
        assertEquals(List.of(ImageDataset.FASHION_CLASSES), named.test().labelNames(10));
        Path few = tmp.resolve("few-names");
        writeSplit(few, "train", ImageDataset.embeddedSample().train(), 50, false);
        writeSplit(few, "t10k", ImageDataset.embeddedSample().test(), 20, false);
        assertEquals(List.of("class 0", "class 1"), ImageDataset.load(few).train().labelNames(2), "no labels.txt: numbered");
        Files.write(few.resolve("labels.txt"), List.of("shirt", "", "trouser"));
        var e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> ImageDataset.load(few));
        assertTrue(e.getMessage().startsWith(few.resolve("labels.txt") + ": names 2 classes, but ") && e.getMessage().contains(" has label "), e.getMessage());
    }

    @Test void finetuneReplacesTheHeadAndTrainsOnNewLabels() throws IOException {
        Path base = tmp.resolve("base");
        assertEquals(0, run(train("--epochs", "1", "--out", base.toString())).code());
        // the new task: three classes (the label modulo 3) on the same images
        ImageDataset.Splits s = ImageDataset.embeddedSample();
        Path three = tmp.resolve("three");
        Files.createDirectories(three);
        for (String split : List.of("train", "t10k")) {
            ImageDataset d = split.equals("train") ? s.train() : s.test();
            int n = split.equals("train") ? 640 : 200;
            ByteBuffer im = ByteBuffer.allocate(16 + n * 784).putInt(0x803).putInt(n).putInt(28).putInt(28).put(d.pixels(), 0, n * 784);
            ByteBuffer lb = ByteBuffer.allocate(8 + n).putInt(0x801).putInt(n);
            for (int i = 0; i < n; i++) lb.put((byte) (d.label(i) % 3));
            write(three.resolve(split + "-images-idx3-ubyte"), im.array(), false);
            write(three.resolve(split + "-labels-idx1-ubyte"), lb.array(), false);
        }
        Path tuned = tmp.resolve("tuned");
        CliTest.Run r = run("finetune", "--weights", base.resolve("checkpoint.safetensors").toString(), "--num-classes", "3", "--freeze-backbone",
                "--data", three.toString(), "--epochs", "1", "--threads", "2", "--out", tuned.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("with a new head of 3 classes; backbone frozen"), r.out());
        assertTrue(Pattern.matches("finetuned model=lenet5 epochs=1 test_accuracy=0\\.[0-9]{4} images_per_s=[0-9]+ checkpoint=.*", r.lastLine()), r.lastLine());
        try (SafetensorsFile a = SafetensorsFile.open(base.resolve("checkpoint.safetensors"));
             SafetensorsFile b = SafetensorsFile.open(tuned.resolve("checkpoint.safetensors"))) {
            assertArrayEquals(new int[]{3, 84}, b.entry("out.weight").shape());
            for (String n : List.of("c1.weight", "c3.weight", "c5.bias", "f6.weight")) assertArrayEquals(a.floats(n), b.floats(n), n + " moved although frozen");
            assertFalse(b.names().contains("optim.c1.weight.momentum"), "a frozen backbone has no optimizer state");
        }
        CliTest.Run ev = run("eval", "--weights", tuned.resolve("checkpoint.safetensors").toString(), "--data", three.toString());
        assertEquals(0, ev.code(), ev.err());
        assertTrue(ev.out().contains("eval model=lenet5 images=200"), ev.out());

        CliTest.Run small = run("finetune", "--weights", base.resolve("checkpoint.safetensors").toString(), "--num-classes", "5", "--data", data.toString());
        assertEquals(2, small.code());
        assertEquals("fovea: error: the data has labels 0..9 but --num-classes is 5; the new head needs at least 10 outputs", small.err().strip());
    }

    @Test void maskedPretrainingThenFinetuning() throws IOException {
        Path pre = tmp.resolve("pre"), ft = tmp.resolve("ft");
        CliTest.Run r = run("pretrain", "--data", data.toString(), "--limit", "128", "--batch", "32", "--epochs", "2", "--mask-ratio", "0.5",
                "--threads", "2", "--out", pre.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(Pattern.matches("pretrained model=vit mask_ratio=0.5 epochs=2 loss=[0-9]+\\.[0-9]{4} images_per_s=[0-9]+ checkpoint=.*", r.lastLine()), r.lastLine());
        try (SafetensorsFile f = SafetensorsFile.open(pre.resolve("checkpoint.safetensors"))) {
            assertArrayEquals(new int[]{1, 1, 64}, f.entry("pretrain.mask_token").shape());
            assertArrayEquals(new int[]{16, 64}, f.entry("pretrain.decoder.weight").shape());   // 4x4 grey patches
        }
        CliTest.Run f = run("finetune", "--weights", pre.resolve("checkpoint.safetensors").toString(), "--num-classes", "10", "--data", data.toString(),
                "--limit", "128", "--batch", "32", "--epochs", "1", "--threads", "2", "--out", ft.toString());
        assertEquals(0, f.code(), f.out() + f.err());
        assertTrue(f.lastLine().startsWith("finetuned model=vit epochs=1 "), f.lastLine());
        try (SafetensorsFile a = SafetensorsFile.open(ft.resolve("checkpoint.safetensors"))) {
            assertFalse(a.names().stream().anyMatch(n -> n.startsWith("pretrain.")), "the pretraining head is dropped");
            assertArrayEquals(new int[]{10, 64}, a.entry("head.weight").shape());
            assertEquals("vit", a.metadata().get("model"));
        }
        CliTest.Run bad = run("pretrain", "--mask-ratio", "1.5");
        assertEquals(2, bad.code());
        assertEquals("fovea: error: --mask-ratio must be in (0, 1), got 1.5", bad.err().strip());
    }

    @Test void generationTrainsItsJudgeEvaluatesAndDrawsAGrid() throws IOException {
        Path out = tmp.resolve("generate");
        String num = "[0-9.]+";
        CliTest.Run r = run("train", "--task", "generate", "--data", data.toString(), "--limit", "128", "--epochs", "1", "--batch", "32", "--samples", "20",
                "--threads", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("classifier: training LeNet-5 on the training images as image tokens draw them"), r.out());
        assertTrue(r.out().contains("tokens: 28×28 images averaged to 14×14, 4 grey levels, 2×2 pixels a token: 49 tokens of 256 values an image"), r.out());
        assertTrue(Pattern.matches("trained task=generate epochs=1 bits_per_dim=" + num + " class_accuracy=" + num + " images_per_s=" + num + " checkpoint="
                + Pattern.quote(out.resolve("checkpoint.safetensors").toString()), r.lastLine()), r.lastLine());
        assertTrue(Files.exists(out.resolve("classifier/checkpoint.safetensors")));
        String ckpt = out.resolve("checkpoint.safetensors").toString();

        // the task is read from the checkpoint; the judge is the one it names
        CliTest.Run ev = run("eval", "--weights", ckpt, "--data", data.toString(), "--count", "20", "--threads", "2");
        assertEquals(0, ev.code(), ev.err());
        assertTrue(ev.out().contains("classifier: " + out.resolve("classifier/checkpoint.safetensors") + "; on the test images as image tokens draw them: accuracy "), ev.out());
        assertTrue(Pattern.matches("eval task=generate bits_per_dim=" + num + " class_accuracy=" + num, ev.lastLine()), ev.lastLine());
        double bpd = Double.parseDouble(ev.lastLine().replaceAll(".*bits_per_dim=([0-9.]+).*", "$1"));
        assertTrue(bpd > 0.2 && bpd < 2.1, "bits/dim of a barely trained model: " + bpd);

        Path grid = tmp.resolve("grid.png");
        CliTest.Run g = run("generate", "--weights", ckpt, "--class", "Ankle Boot", "--count", "4", "--out", grid.toString(), "--seed", "3");
        assertEquals(0, g.code(), g.err());
        assertEquals("generated class=Ankle_boot count=4 temperature=1.0 seed=3 out=" + grid, g.lastLine());
        java.awt.image.BufferedImage pic = javax.imageio.ImageIO.read(grid.toFile());
        assertEquals(2 * 56 + 3 * 2, pic.getWidth());                              // 2 × 2 images of 28·2 pixels, 2-pixel gaps
        assertEquals(2 * 56 + 3 * 2, pic.getHeight());
        byte[] first = Files.readAllBytes(grid);
        CliTest.Run kept = run("generate", "--weights", ckpt, "--class", "all", "--count", "2", "--out", grid.toString(), "--temperature", "0.5");
        assertEquals(2, kept.code());
        assertEquals("fovea: error: " + grid + " exists; pass --overwrite to replace it, or another --out", kept.err().strip());
        assertArrayEquals(first, Files.readAllBytes(grid), "the grid is intact");
        CliTest.Run all = run("generate", "--weights", ckpt, "--class", "all", "--count", "2", "--out", grid.toString(), "--temperature", "0.5", "--overwrite");
        assertEquals(0, all.code(), all.err());
        assertEquals(10 * 56 + 11 * 2, javax.imageio.ImageIO.read(grid.toFile()).getHeight());

        CliTest.Run sock = run("generate", "--weights", ckpt, "--class", "sock", "--out", grid.toString());
        assertEquals(2, sock.code());
        assertTrue(sock.err().contains("unknown class \"sock\"; the classes are: T-shirt/top, Trouser,"), sock.err());
        CliTest.Run none = run("generate", "--weights", tmp.resolve("nothing.safetensors").toString(), "--class", "bag", "--out", grid.toString());
        assertEquals(2, none.code());
        assertTrue(none.err().contains("no such checkpoint (train a generator with `fovea train --task generate`)"), none.err());
        CliTest.Run classifier = run("generate", "--weights", out.resolve("classifier/checkpoint.safetensors").toString(), "--class", "bag", "--out", grid.toString());
        assertEquals(2, classifier.code());
        assertTrue(classifier.err().contains("not a generator's checkpoint"), classifier.err());
    }
}
