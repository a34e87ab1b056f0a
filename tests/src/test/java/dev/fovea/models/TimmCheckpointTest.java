package dev.fovea.models;

import dev.fovea.autograd.Tape;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.testing.Bed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * timm checkpoints as timm and the Hugging Face hub save them: a bare {@code model.safetensors} (weights only, no
 * metadata) with a {@code config.json} beside it. With the config the model is rebuilt and reproduces timm's logits;
 * without one, or with a head count the tensors contradict, it is refused, saying why.
 */
class TimmCheckpointTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    @TempDir Path tmp;

    @AfterAll static void close() { CPU.close(); }

    /** The fixture's weights alone, as model.safetensors in a folder of their own. */
    Path bare(Path fixture, String folder) throws Exception {
        return Bed.hubFolder(tmp.resolve(folder), fixture).resolve("model.safetensors");
    }

    /** Logits of the bare checkpoint's model for the fixture's input, against the fixture's (timm's) logits. */
    static double logitsError(Path weights, Path fixture) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(weights); SafetensorsFile fx = SafetensorsFile.open(fixture);
             VisionTransformer vit = new VisionTransformer(CPU, ViTConfig.fromFile(f), 0)) {
            vit.load(f, n -> true);
            vit.train(false);
            try (Tape t = Tape.inference(CPU)) {
                var logits = vit.forward(t, t.constant(CPU.upload(fx.floats("io.input"), fx.entry("io.input").shape())));
                return FixtureCheck.relErr(logits.value().toArray(), fx.floats("io.logits"));
            }
        }
    }

    @Test void aBareCheckpointWithItsConfigJsonReproducesTimm() throws Exception {
        Path fixture = Path.of(TimmCheckpointTest.class.getResource("/fixtures/vit_tiny_c1_28.safetensors").toURI());
        Path weights = bare(fixture, "hub");
        // without config.json: the head count is known from nothing, and a guess would be wrong
        var none = assertThrows(IllegalArgumentException.class, () -> logitsError(weights, fixture));
        assertTrue(none.getMessage().startsWith(weights + ": the number of attention heads is in neither its metadata") && none.getMessage().contains("config.json"),
                none.getMessage());
        // as timm writes it for a model of its own shape: model_args and pretrained_cfg
        Path json = weights.resolveSibling("config.json");
        Files.writeString(json, """
                {"architecture": "vit_tiny_patch16_224", "num_classes": 10, "global_pool": "token",
                 "model_args": {"img_size": 28, "patch_size": 7, "in_chans": 1, "embed_dim": 48, "depth": 3, "num_heads": 3},
                 "pretrained_cfg": {"input_size": [1, 28, 28], "mean": [0.5], "std": [0.5], "interpolation": "bicubic", "crop_pct": 1.0}}
                """);
        double err = logitsError(weights, fixture);
        assertTrue(err < 5e-6, "logits against timm's: relative error " + err);
        // a head count the width cannot take is caught, naming the files
        Files.writeString(json, """
                {"architecture": "vit_tiny_patch16_224", "model_args": {"num_heads": 5}}
                """);
        var five = assertThrows(IllegalArgumentException.class, () -> logitsError(weights, fixture));
        assertTrue(five.getMessage().contains(json.toString()) && five.getMessage().contains("not divisible by 5 heads"), five.getMessage());
        Files.writeString(json, "{\"architecture\": \"resnet50\"}");
        var resnet = assertThrows(IllegalArgumentException.class, () -> logitsError(weights, fixture));
        assertTrue(resnet.getMessage().startsWith(json + ": architecture \"resnet50\" is not a timm ViT"), resnet.getMessage());
    }

    @Test void vitTiny16AsTheHubSavesIt() throws Exception {
        Path fixture = Path.of("..", "..", "shared", "fixtures", "vit_ti16_224.safetensors");
        assumeTrue(Files.isRegularFile(fixture), "../shared/fixtures/vit_ti16_224.safetensors is not here");
        Path weights = bare(fixture, "ti16");
        Files.writeString(weights.resolveSibling("config.json"), """
                {"architecture": "vit_tiny_patch16_224.augreg_in21k_ft_in1k", "num_classes": 1000, "global_pool": "token",
                 "pretrained_cfg": {"input_size": [3, 224, 224], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_pct": 0.9}}
                """);
        double err = logitsError(weights, fixture);
        assertTrue(err < 5e-6, "logits against timm's: relative error " + err);
    }
}
