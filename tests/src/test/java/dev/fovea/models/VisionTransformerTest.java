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
            for (FixtureCheck.Result r : rs) assertTrue(r.relErr() < 1e-4, file.getFileName() + ": " + r);
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
}
