package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.io.SafetensorsWriter;
import dev.fovea.nn.Act;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import dev.fovea.testing.Bed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** timm's VisionTransformer against PyTorch's fixtures (logits, loss, every gradient) and against configs not seen. */
class VisionTransformerTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    @TempDir Path tmp;

    @AfterAll static void close() { CPU.close(); }

    static List<FixtureCheck.Result> check(Backend be, Path file) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            List<FixtureCheck.Result> rs = FixtureCheck.run(be, f);
            for (FixtureCheck.Result r : rs) assertTrue(r.relErr() < LeNet5Test.GOLDEN_TOL, file.getFileName() + ": " + r);
            return rs;
        }
    }

    static Path resource(String name) throws Exception {
        return Path.of(VisionTransformerTest.class.getResource("/fixtures/" + name).toURI());
    }

    @Test void tinyC3x32MatchesPyTorch() throws Exception {
        // logits, loss, 32 parameter gradients (2 blocks x 12 + 8), the input gradient
        assertEquals(35, check(CPU, resource("vit_tiny_c3_32.safetensors")).size());
        assertEquals(35, check(new ReferenceBackend(), resource("vit_tiny_c3_32.safetensors")).size());
    }

    @Test void tinyC1x28MatchesPyTorch() throws Exception {
        assertEquals(47, check(CPU, resource("vit_tiny_c1_28.safetensors")).size());
    }

    @Test void vitTi16x224LogitsMatchPyTorch() throws Exception {
        Path f = Path.of("..", "..", "shared", "fixtures", "vit_ti16_224.safetensors");
        Assumptions.assumeTrue(Files.exists(f), "vit_ti16_224.safetensors is not in ../shared/fixtures (24 MB, not copied into the repository)");
        assertEquals(1, check(CPU, f).size());
    }

    /** A fixture made here by the reference backend for a config no shared fixture has. */
    static Path unseen(Path dir, ViTConfig cfg) throws Exception {
        Backend ref = new ReferenceBackend();
        SafetensorsWriter w = new SafetensorsWriter();
        cfg.toMetadata().forEach(w::metadata);
        int b = 3, px = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        try (VisionTransformer m = new VisionTransformer(ref, cfg, 5); Tape t = Tape.training(ref)) {
            float[] x = Bed.random(new SplittableRandom(2), b * px);
            Var in = t.leaf(ref.upload(x, b, cfg.inChans(), cfg.imgSize(), cfg.imgSize()));
            Var logits = m.forward(t, in);
            Var loss = t.crossEntropy(logits, t.constant(ref.upload(new float[]{1, 0, cfg.numClasses() - 1}, 3)), 0f);
            loss.backward();
            w.putFloats("io.input", x, b, cfg.inChans(), cfg.imgSize(), cfg.imgSize()).putLongs("io.labels", new long[]{1, 0, cfg.numClasses() - 1}, 3)
                    .putFloats("io.logits", logits.value().toArray(), b, cfg.numClasses()).putFloats("io.loss", loss.value().toArray(), 1)
                    .putFloats("io.grad.input", in.grad().toArray(), in.shape());
            for (var e : m.namedParameters().entrySet()) {
                Tensor p = e.getValue().value();
                w.putFloats(e.getKey(), p.toArray(), p.shape());
                w.putFloats("grad." + e.getKey(), e.getValue().grad().toArray(), p.shape());
            }
        }
        Path f = dir.resolve("vit-" + cfg.hashCode() + ".safetensors");
        w.write(f);
        return f;
    }

    @Test void configsNoSharedFixtureHas() throws Exception {
        // no qkv bias, average pooling with fc_norm, GELU tanh, 5 classes, 12x12 images in 3x3 patches, 1 block, 2 heads
        check(CPU, unseen(tmp, new ViTConfig(12, 3, 2, 5, 16, 1, 2, 2f, false, true, "avg", 1e-5f, Act.Kind.GELU_TANH)));
        // no class token at all
        check(CPU, unseen(tmp, new ViTConfig(8, 4, 1, 3, 8, 2, 4, 4f, true, false, "avg", 1e-6f, Act.Kind.GELU)));
    }

    @Test void badConfigsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ViTConfig(30, 4, 1, 10, 64, 4, 4, 4f, true, true, "token", 1e-6f, Act.Kind.GELU));
        assertEquals("vit: image size 30 is not a multiple of the patch size 4", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ViTConfig(28, 4, 1, 10, 64, 4, 5, 4f, true, true, "token", 1e-6f, Act.Kind.GELU));
        try (VisionTransformer m = new VisionTransformer(CPU, new ViTConfig(28, 4, 1, 10, 16, 1, 2, 2f, true, true, "token", 1e-6f, Act.Kind.GELU), 1);
             Tape t = Tape.inference(CPU)) {
            IllegalArgumentException in = assertThrows(IllegalArgumentException.class, () -> m.forward(t, t.constant(CPU.zeros(2, 1, 32, 32))));
            assertEquals("vit: input: expected [N, 1, 28, 28], got [2, 1, 32, 32]", in.getMessage());
        }
    }

    @Test void presetsHaveTimmsParameterCounts() {
        try (VisionTransformer m = new VisionTransformer(new ReferenceBackend(), ViTConfig.preset("vit_tiny_patch16_224"), 1)) {
            assertEquals(5_717_416, m.parameterCount());   // timm: vit_tiny_patch16_224 has 5.72M parameters
        }
    }

    /** Pillow's antialiased bicubic resize (what PyTorch's antialias=True ports): tools/make-posemb-fixture.py. */
    @Test void positionEmbeddingsResampleAsTimm() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(resource("posemb_resample.safetensors"))) {
            for (String c : List.of("up", "down", "noprefix")) {
                int[] in = f.entry(c + ".in").shape(), out = f.entry(c + ".out").shape();
                String meta = f.metadata().get(c);
                int prefix = meta.contains("\"prefix\": 1") ? 1 : 0;
                int[] g = java.util.Arrays.stream(meta.replaceAll("[^0-9,]", " ").trim().split("[ ,]+")).mapToInt(Integer::parseInt).toArray();
                // g = prefix, oldH, oldW, newH, newW
                float[] got = PosEmbed.resample(f.floats(c + ".in"), prefix, g[1], g[2], g[3], g[4], in[2]);
                float[] want = f.floats(c + ".out");
                assertEquals(want.length, got.length, c);
                assertEquals(out[1], prefix + g[3] * g[4], c);
                for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5f * (1 + Math.abs(want[i])), c + " at " + i);
            }
        }
        // the same grid is the identity; one output between two inputs is their mean
        float[] pe = {9, 1, 2, 3, 4};
        assertTrue(java.util.Arrays.equals(pe, PosEmbed.resample(pe, 1, 2, 2, 2, 2, 1)));
        assertEquals(2.5f, PosEmbed.resample(pe, 1, 2, 2, 1, 1, 1)[1], 1e-6f);
    }

    @Test void checkpointOfAnotherImageSizeLoadsWithResampledPositions() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(resource("vit_tiny_c3_32.safetensors"))) {
            ViTConfig at32 = ViTConfig.fromFile(f);
            ViTConfig at48 = new ViTConfig(48, at32.patchSize(), at32.inChans(), at32.numClasses(), at32.embedDim(), at32.depth(),
                    at32.numHeads(), at32.mlpRatio(), at32.qkvBias(), at32.classToken(), at32.globalPool(), at32.eps(), at32.act());
            try (VisionTransformer same = new VisionTransformer(CPU, at32, 1); VisionTransformer big = new VisionTransformer(CPU, at48, 1)) {
                assertEquals(null, same.load(f, n -> !n.startsWith("io.") && !n.startsWith("grad.")));
                assertEquals("pos_embed resampled from a 8x8 patch grid to 12x12 (bicubic, as timm)",
                        big.load(f, n -> !n.startsWith("io.") && !n.startsWith("grad.")));
                float[] want = PosEmbed.resample(f.floats("pos_embed"), 1, 8, 8, 12, 12, at32.embedDim());
                assertTrue(java.util.Arrays.equals(want, big.posEmbed.value().toArray()));
                assertTrue(java.util.Arrays.equals(f.floats("blocks.1.mlp.fc2.weight"), big.namedParameters().get("blocks.1.mlp.fc2.weight").value().toArray()));
                try (Tape t = Tape.inference(CPU)) {
                    assertEquals(List.of(2, at32.numClasses()), java.util.Arrays.stream(big.forward(t, t.constant(CPU.zeros(2, 3, 48, 48))).shape()).boxed().toList());
                }
            }
            // a width that differs is no resampling case: the mismatch names it
            ViTConfig wide = new ViTConfig(48, 4, 3, at32.numClasses(), 2 * at32.embedDim(), at32.depth(), at32.numHeads(), 4f, true, true, "token", 1e-6f, Act.Kind.GELU);
            try (VisionTransformer w = new VisionTransformer(CPU, wide, 1)) {
                var e = assertThrows(dev.fovea.nn.StateDict.MismatchException.class, () -> w.load(f, n -> !n.startsWith("io.") && !n.startsWith("grad.")));
                assertTrue(e.getMessage().contains("pos_embed: expected [1, 145, 128], file has [1, 65, 64]"), e.getMessage());
            }
        }
    }
}
