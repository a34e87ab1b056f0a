package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.FixtureCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code fovea check}: runs a PyTorch golden fixture and compares every tensor it holds. */
@Command(name = "check", description = {"Run a golden fixture and compare every tensor it holds.",
        "The format of shared/fixtures: model config in __metadata__, PyTorch/timm parameter names, io.input,",
        "io.labels, reference io.logits, io.loss, grad.* and io.grad.input (LeNet5 or timm VisionTransformer).",
        "Prints each tensor's relative error; exit 0 only if every tensor passes."})
final class CheckCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, description = "the fixture .safetensors file") Path weights;
    @Mixin EngineOptions engine;

    @Override public Integer call() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(weights); Backend be = engine.open()) {
            System.out.println("check: " + weights + " (arch " + f.metadata().get("arch") + ") on " + be.name());
            List<FixtureCheck.Result> rs = FixtureCheck.run(be, f);
            int failed = 0;
            for (FixtureCheck.Result r : rs) {
                System.out.printf(Locale.ROOT, "  %-32s rel_err %.3e  (tol %.0e)  %s%n", r.tensor(), r.relErr(), r.tolerance(), r.pass() ? "PASS" : "FAIL");
                if (!r.pass()) failed++;
            }
            System.out.println(failed == 0 ? "PASS: all " + rs.size() + " tensors within tolerance" : "FAIL: " + failed + " of " + rs.size() + " tensors out of tolerance");
            return failed == 0 ? 0 : 1;
        }
    }
}
