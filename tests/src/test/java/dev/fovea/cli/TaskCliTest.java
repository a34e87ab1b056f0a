package dev.fovea.cli;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

import static dev.fovea.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** train / eval / predict with --task on a few Fashion-MNIST scenes (the embedded sample), end to end. */
class TaskCliTest {
    @TempDir static Path tmp;
    static Path data, instance;

    @BeforeAll static void makeScenesAndTrain() {
        data = tmp.resolve("scenes");
        assertEquals(0, run("scenes", "--out", data.toString(), "--count", "24", "--test-count", "8", "--seed", "3").code());
        instance = tmp.resolve("instance");
        CliTest.Run r = run("train", "--task", "instance", "--data", data.toString(), "--epochs", "2", "--batch", "8", "--out", instance.toString(), "--threads", "2");
        assertEquals(0, r.code(), r.err());
        String num = "[0-9.]+";
        assertTrue(Pattern.matches("trained task=instance epochs=2 mask_ap50=" + num + " images_per_s=" + num + " checkpoint=" + Pattern.quote(instance.resolve("checkpoint.safetensors").toString()), r.lastLine()), r.lastLine());
        assertTrue(r.out().contains("epoch 2/2: train loss"), r.out());
    }

    @Test void evalPrintsTheTaskMetricsLastAndAnInstanceModelAlsoDetectsAndSegments() {
        String ckpt = instance.resolve("checkpoint.safetensors").toString();
        String num = "-?[0-9.]+";
        CliTest.Run own = run("eval", "--weights", ckpt, "--data", data.toString());
        assertEquals(0, own.code(), own.err());
        assertTrue(Pattern.matches("eval task=instance images=8 loss=" + num + " mask_ap50=" + num + " mask_ap=" + num + " mask_ap75=" + num + " box_ap50=" + num + " miou=" + num, own.lastLine()), own.lastLine());
        CliTest.Run det = run("eval", "--task", "detect", "--weights", ckpt, "--data", data.resolve("test").toString());
        assertEquals(0, det.code(), det.err());
        assertTrue(det.lastLine().startsWith("eval task=detect images=8 ") && det.lastLine().contains(" box_ap50="), det.lastLine());
        CliTest.Run seg = run("eval", "--task", "segment", "--weights", ckpt, "--data", data.toString());
        assertTrue(seg.lastLine().startsWith("eval task=segment images=8 ") && seg.lastLine().contains(" miou="), seg.lastLine());
    }

    @Test void predictDrawsAPicture() throws IOException {
        Path image = data.resolve("test/images/000001.png"), out = tmp.resolve("pred.png");
        CliTest.Run r = run("predict", "--task", "instance", "--weights", instance.resolve("checkpoint.safetensors").toString(), image.toString(),
                "--out", out.toString(), "--min-score", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.lastLine().startsWith("predicted task=instance image=" + image) && r.lastLine().endsWith("out=" + out), r.lastLine());
        BufferedImage pic = ImageIO.read(out.toFile());
        assertEquals(256, pic.getWidth());
        assertEquals(256, pic.getHeight());
        // an existing picture is kept unless --overwrite
        byte[] drawn = Files.readAllBytes(out);
        CliTest.Run kept = run("predict", "--task", "segment", "--weights", instance.resolve("checkpoint.safetensors").toString(), image.toString(), "--out", out.toString());
        assertEquals(2, kept.code(), kept.out());
        assertEquals("fovea: error: " + out + " exists; pass --overwrite to replace it, or another --out", kept.err().strip());
        assertTrue(java.util.Arrays.equals(drawn, Files.readAllBytes(out)), "the picture is intact");
        assertEquals(0, run("predict", "--task", "segment", "--weights", instance.resolve("checkpoint.safetensors").toString(), image.toString(),
                "--out", out.toString(), "--overwrite").code());
        assertFalse(java.util.Arrays.equals(drawn, Files.readAllBytes(out)), "replaced by the label map");
        // several images: --out is a folder
        Path dir = tmp.resolve("pictures");
        CliTest.Run two = run("predict", "--task", "segment", "--weights", instance.resolve("checkpoint.safetensors").toString(), image.toString(),
                data.resolve("test/images/000002.png").toString(), "--out", dir.toString());
        assertEquals(0, two.code(), two.err());
        assertTrue(Files.isRegularFile(dir.resolve("000002-segment.png")));
        // a picture that cannot be written: one line naming it, no stack trace
        Path nowhere = tmp.resolve("no-such-folder/pred.png");
        CliTest.Run bad = run("predict", "--task", "instance", "--weights", instance.resolve("checkpoint.safetensors").toString(), image.toString(),
                "--out", nowhere.toString());
        assertEquals(2, bad.code(), bad.out());
        assertEquals("fovea: error: " + nowhere + ": its folder " + nowhere.getParent() + " does not exist", bad.err().strip());
    }

    @Test void aResumedSceneRunEqualsAnUninterruptedOne() throws IOException {
        Path whole = tmp.resolve("localize-whole"), parts = tmp.resolve("localize");
        assertEquals(0, run("train", "--task", "localize", "--data", data.toString(), "--epochs", "2", "--batch", "8", "--out", whole.toString()).code());
        CliTest.Run first = run("train", "--task", "localize", "--data", data.toString(), "--epochs", "2", "--stop-after", "1", "--batch", "8", "--out", parts.toString());
        assertEquals(0, first.code(), first.err());
        assertTrue(first.lastLine().startsWith("trained task=localize epochs=1 corloc="), first.lastLine());
        CliTest.Run rest = run("train", "--resume", parts.resolve("checkpoint.safetensors").toString(), "--data", data.toString());
        assertEquals(0, rest.code(), rest.err());
        assertTrue(rest.out().contains("resumed: "), rest.out());
        assertTrue(rest.lastLine().startsWith("trained task=localize epochs=2 corloc="), rest.lastLine());
        TrainCliTest.assertSameRun(whole, parts);
    }

    @Test void aResumedCaptioningRunEqualsAnUninterruptedOne() throws IOException {
        Path whole = tmp.resolve("caption-whole"), parts = tmp.resolve("caption-parts");
        assertEquals(0, run("train", "--task", "caption", "--data", data.toString(), "--epochs", "2", "--batch", "8", "--out", whole.toString()).code());
        assertEquals(0, run("train", "--task", "caption", "--data", data.toString(), "--epochs", "2", "--stop-after", "1", "--batch", "8", "--out", parts.toString()).code());
        CliTest.Run rest = run("train", "--resume", parts.resolve("checkpoint.safetensors").toString(), "--data", data.toString());
        assertEquals(0, rest.code(), rest.err());
        assertTrue(rest.lastLine().startsWith("trained task=caption epochs=2 "), rest.lastLine());
        TrainCliTest.assertSameRun(whole, parts);
    }

    @Test void userErrorsAreNamed() throws IOException {
        String ckpt = instance.resolve("checkpoint.safetensors").toString();
        CliTest.Run noData = run("train", "--task", "detect", "--data", tmp.resolve("nowhere").toString());
        assertEquals(2, noData.code());
        assertTrue(noData.err().contains("annotations.json"), noData.err());
        CliTest.Run badTask = run("train", "--task", "classify", "--data", data.toString());
        assertEquals(2, badTask.code());
        assertTrue(badTask.err().contains("unknown task 'classify', expected localize, detect, segment, instance, caption or generate"), badTask.err());
        // a localization model has no segmentation head
        Path loc = tmp.resolve("loc-only");
        assertEquals(0, run("train", "--task", "localize", "--data", data.toString(), "--epochs", "1", "--batch", "8", "--out", loc.toString()).code());
        CliTest.Run cannot = run("eval", "--task", "segment", "--weights", loc.resolve("checkpoint.safetensors").toString(), "--data", data.toString());
        assertEquals(2, cannot.code());
        assertTrue(cannot.err().contains("was trained for localize; its heads cannot do segment"), cannot.err());
        CliTest.Run noOut = run("predict", "--weights", ckpt, data.resolve("test/images/000001.png").toString());
        assertEquals(2, noOut.code());
        assertTrue(noOut.err().contains("--out"), noOut.err());
        // a category the model does not know
        Path odd = tmp.resolve("odd");
        Files.createDirectories(odd);
        Files.copy(data.resolve("test/images/000001.png"), odd.resolve("a.png"));
        Files.writeString(odd.resolve("annotations.json"), """
                {"images":[{"id":1,"file_name":"a.png","width":64,"height":64}],
                 "categories":[{"id":42,"name":"kite"}],
                 "annotations":[{"id":7,"image_id":1,"category_id":42,"bbox":[1,1,5,5],"iscrowd":0}]}""");
        CliTest.Run unknown = run("eval", "--task", "detect", "--weights", ckpt, "--data", odd.toString());
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("category 42 (kite) is not one the model knows"), unknown.err());
    }

    /** A user's own data: colour images of another size, polygon masks, a crowd region, category ids not 1..K. */
    @Test void colourImagesWithPolygonsTrainAndEvaluate() throws IOException {
        Path dir = tmp.resolve("own");
        for (String split : new String[]{"train", "test"}) {
            Path d = dir.resolve(split);
            Files.createDirectories(d.resolve("images"));
            StringBuilder images = new StringBuilder(), anns = new StringBuilder();
            for (int i = 1; i <= 4; i++) {
                BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
                int x0 = 2 + 3 * i, y0 = 4 + i;
                for (int y = y0; y < y0 + 10; y++) for (int x = x0; x < x0 + 12; x++) img.setRGB(x, y, i % 2 == 0 ? 0xff4020 : 0x20c0ff);
                ImageIO.write(img, "png", d.resolve("images/" + i + ".png").toFile());
                images.append(i > 1 ? "," : "").append("{\"id\":").append(i).append(",\"file_name\":\"").append(i).append(".png\",\"width\":32,\"height\":32}");
                anns.append(i > 1 ? "," : "").append("{\"id\":").append(100 + i).append(",\"image_id\":").append(i).append(",\"category_id\":").append(i % 2 == 0 ? 7 : 9)
                        .append(",\"bbox\":[").append(x0).append(',').append(y0).append(",12,10],\"iscrowd\":0,\"segmentation\":[[")
                        .append(x0).append(',').append(y0).append(',').append(x0 + 12).append(',').append(y0).append(',')
                        .append(x0 + 12).append(',').append(y0 + 10).append(',').append(x0).append(',').append(y0 + 10).append("]]}");
            }
            anns.append(",{\"id\":200,\"image_id\":1,\"category_id\":7,\"bbox\":[20,22,4,4],\"iscrowd\":1,\"segmentation\":[[20,22,24,22,24,26,20,26]]}");
            Files.writeString(d.resolve("annotations.json"), "{\"images\":[" + images + "],\"categories\":[{\"id\":7,\"name\":\"red\"},{\"id\":9,\"name\":\"blue\"}],\"annotations\":[" + anns + "]}");
        }
        Path out = tmp.resolve("own-run");
        CliTest.Run r = run("train", "--task", "instance", "--data", dir.toString(), "--epochs", "1", "--batch", "4", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("2 categories, 3x32x32"), r.out());
        CliTest.Run e = run("eval", "--weights", out.resolve("checkpoint.safetensors").toString(), "--data", dir.toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(e.lastLine().startsWith("eval task=instance images=4 "), e.lastLine());
        CliTest.Run p = run("predict", "--weights", out.resolve("checkpoint.safetensors").toString(), dir.resolve("test/images/1.png").toString(),
                "--out", tmp.resolve("own.png").toString());
        assertEquals(0, p.code(), p.err());
        // the model takes 32x32 colour images: a 64x64 grey scene is resized, and it says so
        CliTest.Run resized = run("predict", "--weights", out.resolve("checkpoint.safetensors").toString(), data.resolve("test/images/000001.png").toString(),
                "--out", tmp.resolve("own2.png").toString());
        assertEquals(0, resized.code(), resized.err());
        assertTrue(resized.out().contains("resized 64x64 to 32x32"), resized.out());
    }

    @Test void captioningTrainsEvaluatesAndCaptions() {
        Path out = tmp.resolve("caption");
        CliTest.Run r = run("train", "--task", "caption", "--data", data.toString(), "--epochs", "1", "--batch", "8", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Pattern.matches("trained task=caption epochs=1 bleu4=[0-9.]+ exact=[0-9.]+ images_per_s=[0-9]+ checkpoint=.*", r.lastLine()), r.lastLine());
        CliTest.Run e = run("eval", "--weights", out.resolve("checkpoint.safetensors").toString(), "--data", data.toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(Pattern.matches("eval task=caption bleu4=[0-9.]+ exact=[0-9.]+", e.lastLine()), e.lastLine());
        Path image = data.resolve("test/images/000001.png");
        CliTest.Run c = run("caption", "--weights", out.resolve("checkpoint.safetensors").toString(), image.toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.lastLine().startsWith(image + ": "), c.lastLine());
        CliTest.Run wrong = run("caption", "--weights", instance.resolve("checkpoint.safetensors").toString(), image.toString());
        assertEquals(2, wrong.code());
        assertTrue(wrong.err().contains("not a captioning checkpoint (its task is instance)"), wrong.err());
    }

    /** Captions in other words than the checkpoint's vocabulary: a clear error, not a BLEU of unknown tokens. */
    @Test void aVocabularyMismatchIsNamed() throws IOException {
        Path out = tmp.resolve("caption-vocab");
        assertEquals(0, run("train", "--task", "caption", "--data", data.toString(), "--epochs", "1", "--batch", "8", "--out", out.toString()).code());
        Path other = tmp.resolve("other-captions");
        Files.createDirectories(other);
        Files.copy(data.resolve("test/images"), other.resolve("images"));
        for (Path p : Files.list(data.resolve("test/images")).toList()) Files.copy(p, other.resolve("images").resolve(p.getFileName()));
        String json = Files.readString(data.resolve("test/captions.json"));
        String swapped = json.replaceAll("\"caption\": \"[^\"]*\"", "\"caption\": \"two dogs chase a red kite\"");
        assertTrue(!swapped.equals(json));
        Files.writeString(other.resolve("captions.json"), swapped);
        CliTest.Run r = run("eval", "--task", "caption", "--weights", out.resolve("checkpoint.safetensors").toString(), "--data", other.toString());
        assertEquals(2, r.code(), r.out());
        assertTrue(r.err().contains(other.resolve("captions.json") + ": vocabulary mismatch: ") && r.err().contains("are not in the vocabulary, such as [two, dogs, chase,"), r.err());
    }
}
