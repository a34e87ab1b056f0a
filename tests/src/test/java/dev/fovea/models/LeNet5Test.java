package dev.fovea.models;

import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.reference.ReferenceBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LeNet-5 against PyTorch's lenet5.safetensors (logits, loss, every gradient) and the paper's parameter counts. */
class LeNet5Test {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));

    @AfterAll static void close() { CPU.close(); }

    static Path fixture() throws Exception {
        return Path.of(LeNet5Test.class.getResource("/fixtures/lenet5.safetensors").toURI());
    }

    /**
     * Largest relative error allowed against PyTorch/timm's golden fixtures (the README's claim): the CPU measures
     * at most 8.3e-7 on them; the margin covers other vector widths' summation orders.
     */
    static final double GOLDEN_TOL = 5e-6;

    void golden(Backend be) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixture())) {
            List<FixtureCheck.Result> rs = FixtureCheck.run(be, f);
            // logits, loss, 10 parameter gradients, the input gradient
            assertEquals(13, rs.size(), rs.toString());
            for (FixtureCheck.Result r : rs) assertTrue(r.relErr() < GOLDEN_TOL, r.toString());
        }
    }

    @Test void fullMatchesPyTorchOnCpu() throws Exception { golden(CPU); }

    @Test void fullMatchesPyTorchOnReference() throws Exception { golden(new ReferenceBackend()); }

    @Test void paperParameterCounts() {
        try (LeNet5 m = LeNet5.create(CPU, LeNet5.Variant.PAPER, 1)) {
            var p = m.namedParameters();
            assertEquals(156, m.c1().parameterCount());
            assertEquals(1_516, m.c3().parameterCount());
            assertEquals(48_120, m.c5().parameterCount());
            assertEquals(12, p.get("s2.weight").value().numel() + p.get("s2.bias").value().numel());
            assertEquals(32, p.get("s4.weight").value().numel() + p.get("s4.bias").value().numel());
            assertEquals(10_164, p.get("f6.weight").value().numel() + p.get("f6.bias").value().numel());
            assertEquals(156 + 12 + 1_516 + 32 + 48_120 + 10_164 + 850, m.parameterCount());
        }
    }

    @Test void c3TableHasSixtyConnections() {
        int n = 0;
        for (boolean[] row : LeNet5.c3Table()) for (boolean b : row) if (b) n++;
        assertEquals(60, n);
    }
}
