package dev.fovea.data;

import dev.fovea.io.Json;
import dev.fovea.io.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Preprocessing against timm's own evaluation transform ({@code tools/make-preprocess-fixture.py}: Pillow's resize,
 * torchvision's centre crop, ToTensor, Normalize): shrinking and enlarging, bicubic and bilinear, crops that round
 * half to even, grey and RGB. The 8-bit resize is Pillow's to the sample, so the tensors agree to float rounding.
 */
class PreprocessingTest {
    static Path fixture(String name) throws Exception { return Path.of(PreprocessingTest.class.getResource("/fixtures/" + name).toURI()); }

    @Test void matchesTimmsEvaluationTransform() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixture("preprocess.safetensors"))) {
            assertEquals(5, f.names().size());
            for (String name : f.names()) {
                Map<?, ?> cfg = (Map<?, ?>) Json.parse(f.metadata().get(name));
                List<?> size = (List<?>) cfg.get("input_size");
                int c = ((Number) size.get(0)).intValue(), s = ((Number) size.get(1)).intValue();
                Preprocessing p = new Preprocessing(c, s, s, floats(cfg.get("mean")), floats(cfg.get("std")), Resample.Filter.parse((String) cfg.get("interpolation")),
                        ((Number) cfg.get("crop_pct")).doubleValue(), Preprocessing.Invert.NEVER);
                Preprocessing.Input in = p.prepare(Images.read(fixture((String) cfg.get("image"))));
                float[] want = f.floats(name);
                assertEquals(want.length, in.input().length, name);
                double worst = 0;
                for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - in.input()[i]));
                assertTrue(worst <= 1e-6, name + ": largest difference from timm " + worst + " (one 8-bit step is >= 0.0078 here)");
            }
        }
    }

    static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] v = new float[l.size()];
        for (int i = 0; i < v.length; i++) v[i] = ((Number) l.get(i)).floatValue();
        return v;
    }

    @Test void invertsLightBorderedImagesOnlyWhenAsked() {
        BufferedImage light = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
        light.getRaster().setSamples(0, 0, 28, 28, 0, filled(28 * 28, 230));
        light.getRaster().setSample(14, 14, 0, 10);
        Preprocessing auto = ImageDataset.preprocessing(28, 28);
        Preprocessing.Input a = auto.prepare(light);
        assertEquals(List.of("inverted (light background)"), a.notes());
        assertEquals(25, a.pixels()[0] & 0xff);
        assertEquals(245, a.pixels()[14 * 28 + 14] & 0xff);
        Preprocessing.Input n = auto.withInvert(Preprocessing.Invert.NEVER).prepare(light);
        assertEquals(List.of(), n.notes());
        assertEquals(230, n.pixels()[0] & 0xff);
        assertEquals(((230 / 255f) - ImageDataset.MEAN) / ImageDataset.STD, n.input()[0]);
    }

    static int[] filled(int n, int v) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    @Test void roundTripsThroughMetadataAndNamesWhatIsWrong() {
        Preprocessing p = new Preprocessing(3, 32, 32, new float[]{0.5f, 0.4f, 0.3f}, new float[]{0.2f, 0.25f, 0.3f}, Resample.Filter.BILINEAR, 0.9,
                Preprocessing.Invert.NEVER);
        assertEquals(p, Preprocessing.fromMetadata("x", p.toMetadata()));
        var m = new java.util.HashMap<>(p.toMetadata());
        m.put("preprocess.std", "0.2,0.25");
        var e = assertThrows(IllegalArgumentException.class, () -> Preprocessing.fromMetadata("ckpt.safetensors", m));
        assertTrue(e.getMessage().startsWith("ckpt.safetensors: bad preprocessing metadata: preprocessing: 3 channels need as many"), e.getMessage());
        m.remove("preprocess.crop_pct");
        e = assertThrows(IllegalArgumentException.class, () -> Preprocessing.fromMetadata("ckpt.safetensors", m));
        assertEquals("ckpt.safetensors: the metadata lacks \"preprocess.crop_pct\"", e.getMessage());
        m.put("preprocess.crop_pct", "0.9");
        m.put("preprocess.std", "0.2,0.25,0.3");
        m.put("preprocess.interpolation", "lanczos");
        e = assertThrows(IllegalArgumentException.class, () -> Preprocessing.fromMetadata("ckpt.safetensors", m));
        assertTrue(e.getMessage().contains("interpolation \"lanczos\" is not one Fovea resizes with"), e.getMessage());
    }

    @Test void resizeToTheSameSizeIsACopyAndOneSampleIsItsMean() {
        byte[] px = {10, 20, 30, 40, (byte) 200, (byte) 250};
        byte[] same = Resample.resize(px, 1, 2, 3, 2, 3, Resample.Filter.BICUBIC);
        assertArrayEquals(px, same);
        assertTrue(same != px);
        // shrinking to one pixel averages (the antialiasing widens the filter over the whole row)
        assertEquals(20, Resample.resize(new byte[]{10, 20, 30}, 1, 1, 3, 1, 1, Resample.Filter.BILINEAR)[0]);
    }
}
