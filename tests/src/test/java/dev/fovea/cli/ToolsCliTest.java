package dev.fovea.cli;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.io.SafetensorsWriter;
import dev.fovea.models.LeNet5;
import dev.fovea.nn.Act;
import dev.fovea.optim.Sgd;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.train.Checkpoint;
import dev.fovea.train.TrainConfig;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static dev.fovea.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** filter, check and predict as a user runs them, and their errors. */
class ToolsCliTest {
    @TempDir Path tmp;

    /** The lecture-style worked example: a 6×6 image. */
    static final int[][] IMAGE = {
            {3, 0, 1, 2, 7, 4},
            {1, 5, 8, 9, 3, 1},
            {2, 7, 2, 5, 1, 3},
            {0, 1, 3, 1, 7, 8},
            {4, 2, 1, 6, 2, 8},
            {2, 4, 5, 2, 3, 9}};
    static final int[][] LAPLACIAN = {{0, 1, 0}, {1, -4, 1}, {0, 1, 0}};

    /** Cross-correlation written out by hand: the independent answer the CLI must print. */
    static int[][] correlate(int[][] x, int[][] k, int pad) {
        int n = x.length + 2 * pad - k.length + 1;
        int[][] y = new int[n][n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int a = 0; a < k.length; a++)
                    for (int b = 0; b < k.length; b++) {
                        int r = i + a - pad, c = j + b - pad;
                        if (r >= 0 && r < x.length && c >= 0 && c < x.length) y[i][j] += x[r][c] * k[a][b];
                    }
        return y;
    }

    static String matrix(int[][] m) {
        StringBuilder sb = new StringBuilder();
        for (int[] row : m) {
            if (!sb.isEmpty()) sb.append(';');
            for (int j = 0; j < row.length; j++) sb.append(j == 0 ? "" : ",").append(row[j]);
        }
        return sb.toString();
    }

    static int[][] parsePrinted(String out, int rows) {
        String[] lines = out.strip().split("\n");
        int[][] m = new int[rows][];
        for (int i = 0; i < rows; i++) {
            String[] f = lines[lines.length - rows + i].trim().split("\\s+");
            m[i] = new int[f.length];
            for (int j = 0; j < f.length; j++) m[i][j] = Integer.parseInt(f[j]);
        }
        return m;
    }

    @Test void filterReproducesTheWorkedExamplesValidAndPadded() {
        for (int pad : new int[]{0, 1}) {
            CliTest.Run r = run("filter", "--matrix", matrix(IMAGE), "--kernel", "0,1,0;1,-4,1;0,1,0", "--padding", Integer.toString(pad));
            assertEquals(0, r.code(), r.err());
            int[][] want = correlate(IMAGE, LAPLACIAN, pad);
            assertTrue(r.out().contains("output " + want.length + "x" + want.length), r.out());
            assertEquals(List.of(want).stream().map(java.util.Arrays::toString).toList(),
                    List.of(parsePrinted(r.out(), want.length)).stream().map(java.util.Arrays::toString).toList(), r.out());
        }
        // by name, with stride: the edge kernel is the negated Laplacian
        CliTest.Run s = run("filter", "--matrix", matrix(IMAGE), "--kernel", "edge", "--stride", "2");
        assertEquals(0, s.code(), s.err());
        int[][] full = correlate(IMAGE, LAPLACIAN, 0);
        int[][] got = parsePrinted(s.out(), 2);
        assertEquals(-full[0][0], got[0][0]);
        assertEquals(-full[2][2], got[1][1]);
    }

    @Test void filterWritesAPngOfAnImage() throws IOException {
        BufferedImage img = new BufferedImage(20, 12, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 12; y++) for (int x = 0; x < 20; x++) img.setRGB(x, y, x < 10 ? 0xff2040 : 0x000000);
        Path in = tmp.resolve("in.png");
        ImageIO.write(img, "png", in.toFile());
        CliTest.Run r = run("filter", "--image", in.toString(), "--kernel", "box-blur", "--padding", "1");
        assertEquals(0, r.code(), r.err());
        BufferedImage out = ImageIO.read(tmp.resolve("in-box-blur.png").toFile());
        assertEquals(20, out.getWidth());
        assertEquals(0xff, out.getRGB(3, 5) >> 16 & 0xff, "red far from the edge stays red");
        assertEquals(Math.round(0xff * 6 / 9f), out.getRGB(9, 5) >> 16 & 0xff, "last red column: 6 of its 9 neighbours are red");
        assertEquals(Math.round(0xff * 3 / 9f), out.getRGB(10, 5) >> 16 & 0xff, "first black column: 3 of 9");
    }

    @Test void greyPngSamplesAreReadAndWrittenAsTheyAre() throws IOException {
        // through getRGB/setRGB Java converts grey samples between linear and sRGB: 128 would read as 188
        BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) img.getRaster().setSample(x, y, 0, x < 4 ? 128 : 10);
        Path in = tmp.resolve("grey.png");
        ImageIO.write(img, "png", in.toFile());
        CliTest.Run r = run("filter", "--image", in.toString(), "--kernel", "identity");
        assertEquals(0, r.code(), r.err());
        BufferedImage out = ImageIO.read(tmp.resolve("grey-identity.png").toFile());
        assertEquals(128, out.getRaster().getSample(1, 3, 0));
        assertEquals(10, out.getRaster().getSample(4, 3, 0));   // a valid 3x3: output x is input x + 1
    }

    @Test void scenesWriteACocoDatasetThatReadsBack() throws IOException {
        Path dir = tmp.resolve("scenes");
        CliTest.Run r = run("scenes", "--out", dir.toString(), "--count", "6", "--test-count", "3", "--seed", "5", "--max-items", "3");
        assertEquals(0, r.code(), r.err());
        assertEquals("scenes out=" + dir + " train=6 test=3 seed=5", r.lastLine());
        var coco = dev.fovea.data.coco.CocoDataset.read(dir.resolve("train/annotations.json"), dir.resolve("train/images"));
        assertEquals(6, coco.images().size());
        assertEquals(10, coco.categories().size());
        for (var im : coco.images()) {
            BufferedImage sem = ImageIO.read(dir.resolve("train/masks").resolve(im.fileName()).toFile());
            assertTrue(Files.exists(coco.imagePath(im)));
            assertFalse(coco.annotations(im.id()).isEmpty());
            for (var a : coco.annotations(im.id())) {
                byte[] m = coco.mask(a);
                int inside = 0;
                for (int i = 0; i < m.length; i++) {
                    if (m[i] == 0) continue;
                    inside++;
                    int x = i % im.width(), y = i / im.width();
                    // the semantic map labels the instance's pixels 1 + class = its category id
                    assertEquals(a.categoryId(), sem.getRaster().getSample(x, y, 0), "annotation " + a.id());
                    assertTrue(x >= a.bbox()[0] && x < a.bbox()[0] + a.bbox()[2] && y >= a.bbox()[1] && y < a.bbox()[1] + a.bbox()[3]);
                }
                assertTrue(inside > 0);
            }
        }
        // the images load back as written: one grey channel, the item pixels bright on a dark canvas
        var images = dev.fovea.data.coco.CocoImages.load(coco);
        assertEquals(1, images.channels());
        assertEquals(64, images.height());
        float[] first = new float[64 * 64];
        images.unit(0, first, 0);
        for (var a : coco.annotations(coco.images().getFirst().id())) {
            byte[] m = coco.mask(a);
            for (int i = 0; i < m.length; i++) if (m[i] != 0) assertTrue(first[i] > dev.fovea.data.Scenes.INK - 1f / 255, "item pixel " + i);
        }
        Files.delete(dir.resolve("train/images").resolve(coco.images().get(2).fileName()));
        var missing = org.junit.jupiter.api.Assertions.assertThrows(java.nio.file.NoSuchFileException.class, () -> dev.fovea.data.coco.CocoImages.load(coco));
        assertTrue(missing.getMessage().contains("image 3 of"), missing.getMessage());
        // captions name every item of every scene
        var caps = dev.fovea.data.coco.CocoCaptions.read(dir.resolve("train/captions.json"));
        for (var im : coco.images()) {
            String caption = caps.captions(im.id()).getFirst();
            for (var a : coco.annotations(im.id())) assertTrue(caption.contains(dev.fovea.data.SceneCaptions.NAMES[(int) a.categoryId() - 1]), caption);
        }
        // the same seed writes the same scenes
        Path again = tmp.resolve("again");
        assertEquals(0, run("scenes", "--out", again.toString(), "--count", "6", "--test-count", "3", "--seed", "5").code());
        assertEquals(Files.readString(dir.resolve("test/annotations.json")), Files.readString(again.resolve("test/annotations.json")));
        assertEquals(2, run("scenes", "--out", again.toString(), "--size", "20").code());
    }

    @Test void filterErrorsNameTheProblem() {
        CliTest.Run k = run("filter", "--matrix", "1,2;3,4", "--kernel", "1,2;3");
        assertEquals(2, k.code());
        assertEquals("fovea: error: kernel \"1,2;3\": row 2 has 1 values, row 1 has 2", k.err().strip());
        CliTest.Run big = run("filter", "--matrix", "1,2;3,4", "--kernel", "edge");
        assertEquals(2, big.code());
        assertTrue(big.err().contains("does not fit a 2x2 input with padding 0"), big.err());
        CliTest.Run none = run("filter", "--kernel", "edge");
        assertTrue(none.code() != 0);
        assertTrue(none.err().contains("--image") && none.err().contains("--matrix"), none.err());
    }

    /** A fixture of the shared format made here: random weights, batch 3, reference values from the reference backend. */
    static Path makeFixture(Path dir, float logitScale) throws IOException {
        Backend ref = new ReferenceBackend();
        SafetensorsWriter w = new SafetensorsWriter().metadata("arch", "LeNet5").metadata("note", "made by ToolsCliTest");
        try (LeNet5 m = new LeNet5(ref, LeNet5.Variant.FULL, Act.Kind.TANH, 77); Tape t = Tape.training(ref)) {
            float[] x = dev.fovea.testing.Bed.random(new SplittableRandom(9), 3 * 784);
            Var in = t.leaf(ref.upload(x, 3, 1, 28, 28));
            Var logits = m.forward(t, in);
            Var loss = t.crossEntropy(logits, t.constant(ref.upload(new float[]{4, 0, 9}, 3)), 0f);
            loss.backward();
            float[] lg = logits.value().toArray();
            for (int i = 0; i < lg.length; i++) lg[i] *= logitScale;
            w.putFloats("io.input", x, 3, 1, 28, 28).putLongs("io.labels", new long[]{4, 0, 9}, 3)
                    .putFloats("io.logits", lg, 3, 10).putFloats("io.loss", loss.value().toArray(), 1)
                    .putFloats("io.grad.input", in.grad().toArray(), 3, 1, 28, 28);
            for (var e : m.namedParameters().entrySet()) {
                Tensor p = e.getValue().value();
                w.putFloats(e.getKey(), p.toArray(), p.shape());
                w.putFloats("grad." + e.getKey(), e.getValue().grad().toArray(), p.shape());
            }
        }
        Path f = dir.resolve("other" + logitScale + ".safetensors");
        w.write(f);
        return f;
    }

    @Test void checkAcceptsAnyFileOfTheFixtureFormat() throws Exception {
        Path shared = tmp.resolve("copy.safetensors");
        Files.copy(Path.of(ToolsCliTest.class.getResource("/fixtures/lenet5.safetensors").toURI()), shared);
        CliTest.Run a = run("check", "--weights", shared.toString(), "--threads", "2");
        assertEquals(0, a.code(), a.out() + a.err());
        assertTrue(a.lastLine().startsWith("PASS: all 13 tensors"), a.out());

        CliTest.Run b = run("check", "--weights", makeFixture(tmp, 1f).toString());
        assertEquals(0, b.code(), b.out() + b.err());
        assertEquals(13, b.out().lines().filter(l -> l.endsWith("PASS")).count(), b.out());

        CliTest.Run c = run("check", "--weights", makeFixture(tmp, 1.001f).toString());
        assertEquals(1, c.code(), c.out());
        assertTrue(c.out().lines().anyMatch(l -> l.contains("io.logits") && l.endsWith("FAIL")), c.out());
        assertTrue(c.lastLine().startsWith("FAIL: 1 of 13"), c.out());

        Path vit = tmp.resolve("vit.safetensors");
        new SafetensorsWriter().metadata("arch", "ConvNeXt").putFloats("io.input", new float[1], 1).putFloats("io.logits", new float[1], 1).write(vit);
        CliTest.Run d = run("check", "--weights", vit.toString());
        assertEquals(2, d.code());
        assertEquals("fovea: error: " + vit + ": arch \"ConvNeXt\" is not supported (supported: LeNet5, timm VisionTransformer)", d.err().strip());
    }

    /** An untrained lenet5-full checkpoint. */
    static Path fullCheckpoint(Path dir) throws IOException {
        Path ckpt = dir.resolve("m.safetensors");
        try (ReferenceBackend ref = new ReferenceBackend(); LeNet5 m = LeNet5.create(ref, LeNet5.Variant.FULL, 3);
             Sgd opt = new Sgd(ref, m.namedParameters(), 0.9f, 0f, false)) {
            TrainConfig cfg = TrainConfig.builder("lenet5-full").epochs(1).schedule("constant").warmup(0).seed(3L).build();
            Checkpoint.save(ckpt, m, opt, cfg, 1, 10, List.of());
        }
        return ckpt;
    }

    @Test void predictConvertsImagesAndSaysSo() throws IOException {
        Path ckpt = fullCheckpoint(tmp);
        BufferedImage colour = new BufferedImage(56, 40, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 40; y++) for (int x = 0; x < 56; x++) colour.setRGB(x, y, (x > 20 && x < 36) ? 0x202080 : 0xf0f0e0);
        Path a = tmp.resolve("photo.png");
        ImageIO.write(colour, "png", a.toFile());
        BufferedImage grey = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        Path b = tmp.resolve("grey.png");
        ImageIO.write(grey, "png", b.toFile());
        CliTest.Run r = run("predict", "--weights", ckpt.toString(), "--top", "2", a.toString(), b.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("note: " + a + ": converted: colour to grey, resized 56x40 to 39x28 (bicubic), centre 28x28 cropped, inverted (light background)"), r.out());
        assertFalse(r.out().contains("note: " + b), "a 28x28 grey image needs no conversion: " + r.out());
        assertTrue(r.out().matches("(?s).*" + java.util.regex.Pattern.quote(b.toString()) + ":  1\\. \\S.* [01]\\.[0-9]{3}  2\\. .*"), r.out());

        Path junk = tmp.resolve("junk.png");
        Files.writeString(junk, "not an image");
        CliTest.Run bad = run("predict", "--weights", ckpt.toString(), junk.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().startsWith("fovea: error: " + junk + ": unreadable image"), bad.err());
    }

    @Test void predictReadsATimmFolderWithItsPreprocessingAndLabels() throws Exception {
        Path hub = dev.fovea.testing.Bed.hubFolder(tmp.resolve("hub"), Path.of(ToolsCliTest.class.getResource("/fixtures/vit_tiny_c1_28.safetensors").toURI()));
        Path img = tmp.resolve("photo.png");
        BufferedImage photo = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 40; y++) for (int x = 0; x < 40; x++) photo.setRGB(x, y, (x * 6) << 16 | (y * 6) << 8 | 0x40);
        ImageIO.write(photo, "png", img.toFile());
        CliTest.Run none = run("predict", "--weights", hub.toString(), img.toString());
        assertEquals(2, none.code());
        assertTrue(none.err().startsWith("fovea: error: ") && none.err().contains("the number of attention heads is in neither") && none.err().strip().lines().count() == 1,
                none.err());
        Files.writeString(hub.resolve("config.json"), """
                {"architecture": "vit_tiny_patch16_224", "num_classes": 10,
                 "model_args": {"img_size": 28, "patch_size": 7, "in_chans": 1, "embed_dim": 48, "depth": 3, "num_heads": 3},
                 "pretrained_cfg": {"mean": [0.5], "std": [0.5], "crop_pct": 0.9,
                   "label_names": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]}}
                """);
        CliTest.Run r = run("predict", "--weights", hub.toString(), "--top", "2", img.toString());
        assertEquals(0, r.code(), r.err());
        // timm's transform: the shorter side to floor(28 / 0.9) = 31, the centre 28x28; timm's models never invert
        assertTrue(r.out().contains("note: " + img + ": converted: colour to grey, resized 40x40 to 31x31 (bicubic), centre 28x28 cropped\n"), r.out());
        assertTrue(r.out().matches("(?s).*" + java.util.regex.Pattern.quote(img.toString()) + ":  1\\. [a-z]+ [01]\\.[0-9]{3}  2\\. [a-z]+ [01]\\.[0-9]{3}\n.*"), r.out());
    }

    @Test void explainWritesItsPictureAndRefusesAModelThatTakesNoImage() throws Exception {
        Path ckpt = fullCheckpoint(tmp), png = tmp.resolve("explained.png"), img = tmp.resolve("boot.png");
        ImageFiles.writeGrey(java.util.Arrays.copyOf(dev.fovea.data.ImageDataset.embeddedSample().test().pixels(), 784), 28, 28, img);
        CliTest.Run r = run("explain", "--weights", ckpt.toString(), img.toString(), "--out", png.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.lastLine().startsWith("explained model=" + ckpt.getFileName() + " image=" + img + " out=" + png + " size="), r.lastLine());
        BufferedImage written = ImageIO.read(png.toFile());
        assertTrue(written.getWidth() > 500, "a picture: " + written.getWidth() + "x" + written.getHeight());
        CliTest.Run again = run("explain", "--weights", ckpt.toString(), img.toString(), "--out", png.toString());
        assertEquals(2, again.code());
        assertEquals("fovea: error: " + png + " exists; pass --overwrite to replace it, or another --out", again.err().strip());

        Path gen = tmp.resolve("generator.safetensors");
        var gc = new dev.fovea.models.ImageGenerator.Config(dev.fovea.data.ImageTokens.FASHION, 10, 16, 1, 2);
        TrainConfig cfg = TrainConfig.builder(dev.fovea.tasks.GenerationTask.MODEL).build();
        try (ReferenceBackend ref = new ReferenceBackend(); var net = new dev.fovea.models.ImageGenerator(ref, gc, 7); var opt = cfg.newOptimizer(ref, net)) {
            Checkpoint.save(gen, net, opt, cfg, 1, 1, List.of(), dev.fovea.tasks.GenerationTask.metadata(gc, tmp.resolve("judge"), dev.fovea.data.ClassNames.numbered(10)));
        }
        CliTest.Run refused = run("explain", "--weights", gen.toString(), img.toString(), "--out", tmp.resolve("g.png").toString());
        assertEquals(2, refused.code());
        assertTrue(refused.err().startsWith("fovea: error: " + gen + ": generator") && refused.err().contains("explain takes models that look at an image"), refused.err());
    }

    @Test void aCheckpointThatDoesNotFitListsWhatIsWrong() throws IOException {
        Path ckpt = tmp.resolve("paper.safetensors");
        try (ReferenceBackend ref = new ReferenceBackend(); LeNet5 m = LeNet5.create(ref, LeNet5.Variant.PAPER, 3);
             Sgd opt = new Sgd(ref, m.namedParameters(), 0.9f, 0f, false)) {
            // metadata claims lenet5-full, tensors are the paper's
            TrainConfig cfg = TrainConfig.builder("lenet5-full").epochs(1).schedule("constant").warmup(0).seed(3L).build();
            Checkpoint.save(ckpt, m, opt, cfg, 1, 10, List.of());
        }
        CliTest.Run r = run("eval", "--weights", ckpt.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(ckpt + " does not fit the model:"), r.err());
        assertTrue(r.err().contains("missing: f5.weight [120, 400], f5.bias [120]"), r.err());
        assertTrue(r.err().contains("unexpected: s2.weight [6, 1, 1, 1]"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace");

        Path reshaped = tmp.resolve("reshaped.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(fullCheckpoint(tmp))) {
            SafetensorsWriter w = new SafetensorsWriter();
            f.metadata().forEach(w::metadata);
            for (String name : f.names())
                if (name.equals("out.weight")) w.putFloats(name, new float[10 * 80], 10, 80);
                else w.putFloats(name, f.floats(name), f.entry(name).shape());
            w.write(reshaped);
        }
        CliTest.Run s = run("eval", "--weights", reshaped.toString());
        assertEquals(2, s.code());
        assertTrue(s.err().contains("wrong shape: out.weight: expected [10, 84], file has [10, 80]"), s.err());

        Path notOurs = tmp.resolve("fixture.safetensors");
        new SafetensorsWriter().putFloats("a", new float[1], 1).write(notOurs);
        CliTest.Run n = run("eval", "--weights", notOurs.toString());
        assertEquals(2, n.code());
        assertTrue(n.err().contains("not a fovea checkpoint"), n.err());
    }

    @Test void benchInferEndsWithTheSummaryLine() throws Exception {
        Path st = Path.of(ToolsCliTest.class.getResource("/fixtures/vit_tiny_c3_32.safetensors").toURI());
        Path onnx = Path.of(ToolsCliTest.class.getResource("/fixtures/vit_tiny_c3_32.onnx").toURI());
        CliTest.Run r = run("bench", "infer", "--weights", st.toString(), "--onnx", onnx.toString(), "--batch", "4", "--threads", "2",
                "--warmup", "0.2", "--seconds", "0.2", "--repeats", "1", "--profile");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("per pass, by op") && r.out().contains("attention [4, 65, 3, 4, 16] → [4, 65, 4, 16] forward"), r.out());
        // the small ONNX files carry other weights than the safetensors (fixtures/README.md): speed only
        assertTrue(r.out().contains("logits differ"), r.out());
        assertTrue(r.lastLine().matches("infer model=vit_tiny_c3_32 batch=4 threads=2 fovea=[0-9.]+ onnxruntime=[0-9.]+ images/s ratio=[0-9.]+"), r.lastLine());
        CliTest.Run missing = run("bench", "infer", "--weights", st.toString(), "--onnx", tmp.resolve("none.onnx").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("no such ONNX file"), missing.err());
    }
}
