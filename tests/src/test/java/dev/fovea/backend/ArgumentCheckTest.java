package dev.fovea.backend;

import dev.fovea.cpu.CpuBackend;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad arguments are refused before any kernel runs, with the op, the argument, the expected and the actual shape. */
class ArgumentCheckTest {
    static final CpuBackend B = new CpuBackend();

    @AfterAll static void done() { B.close(); }

    static void refused(Executable e, String... fragments) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        for (String f : fragments) assertTrue(ex.getMessage().contains(f), "'" + ex.getMessage() + "' should mention '" + f + "'");
    }

    @Test void gemmShapes() {
        try (Tensor a = B.zeros(3, 4); Tensor b = B.zeros(5, 6); Tensor c = B.zeros(3, 6); Tensor bb = B.zeros(4, 6); Tensor c2 = B.zeros(3, 7)) {
            refused(() -> B.gemm(a, false, b, false, c, 1, 0), "gemm", "inner dimensions", "[3, 4]", "[5, 6]");
            refused(() -> B.gemm(a, false, bb, false, c2, 1, 0), "gemm", "c", "[.., 3, 6]", "[3, 7]");
            refused(() -> B.gemm(a, true, bb, false, c, 1, 0), "gemm", "(transposed)");
            try (Tensor bias = B.zeros(5); Tensor res = B.zeros(3, 5)) {
                refused(() -> B.gemm(a, false, bb, false, c, 1, 0, Epilogue.bias(bias)), "gemm", "bias", "[6]", "[5]");
                refused(() -> B.gemm(a, false, bb, false, c, 1, 0, new Epilogue(null, res)), "gemm", "residual", "[3, 6]", "[3, 5]");
                refused(() -> B.gemm(a, false, bb, false, c, 1, 0, new Epilogue(null, c)), "gemm", "residual must not be c");
            }
        }
    }

    @Test void convShapes() {
        Conv2dSpec s = Conv2dSpec.of(1, 1);
        try (Tensor x = B.zeros(2, 3, 8, 8); Tensor w = B.zeros(4, 2, 3, 3); Tensor y = B.zeros(2, 4, 8, 8); Tensor w3 = B.zeros(4, 3, 3, 3); Tensor yBad = B.zeros(2, 4, 7, 8);
             Tensor big = B.zeros(4, 3, 11, 11)) {
            refused(() -> B.conv2dForward(x, w, null, y, s), "conv2dForward", "w", "[4, 3, KH, KW]", "[4, 2, 3, 3]");
            refused(() -> B.conv2dForward(x, w3, null, yBad, s), "conv2dForward", "y", "[2, 4, 8, 8]", "[2, 4, 7, 8]");
            refused(() -> B.conv2dForward(x, w3, null, y, s.withGroups(2)), "groups=2", "must divide");
            refused(() -> B.conv2dForward(x, big, null, y, s), "kernel 11x11 is larger than the padded input 10x10");
            try (Tensor bias = B.zeros(5)) { refused(() -> B.conv2dForward(x, w3, bias, y, s), "bias", "[4]", "[5]"); }
        }
        refused(() -> new Conv2dSpec(0, 0, 0, 1, 1), "stride must be >= 1");
    }

    @Test void poolAndActivationShapes() {
        try (Tensor x = B.zeros(1, 1, 4, 4); Tensor y = B.zeros(1, 1, 3, 3); Tensor z = B.zeros(2, 3); Tensor z2 = B.zeros(3, 2)) {
            refused(() -> B.pool2dForward(Pool2dSpec.max(2, 2, 0), x, y), "pool2dForward", "y", "[1, 1, 2, 2]", "[1, 1, 3, 3]");
            refused(() -> B.activationForward(Activation.RELU, z, z2), "activationForward(RELU)", "[2, 3]", "[3, 2]");
        }
        refused(() -> Pool2dSpec.max(2, 2, 2), "padding must be at most half the kernel");
    }

    @Test void labelsAndIndicesOutOfRange() {
        try (Tensor logits = B.zeros(2, 3); Tensor labels = B.upload(new float[]{1, 3}, 2); Tensor probs = B.zeros(2, 3); Tensor loss = B.zeros(1);
             Tensor table = B.zeros(4, 2); Tensor idx = B.upload(new float[]{0, 4}, 2); Tensor out = B.zeros(2, 2)) {
            refused(() -> B.crossEntropyForward(logits, labels, probs, loss, 0), "labels[1] = 3.0", "[0, 3)");
            refused(() -> B.gather(table, idx, out), "gather", "idx[1] = 4.0", "[0, 4)");
            refused(() -> B.crossEntropyForward(logits, labels, probs, loss, 1.5f), "label smoothing");
        }
    }

    @Test void attentionAndNormShapes() {
        try (Tensor q = B.zeros(1, 2, 5, 8); Tensor k = B.zeros(1, 2, 6, 7); Tensor v = B.zeros(1, 2, 6, 8); Tensor o = B.zeros(1, 2, 5, 8); Tensor lse = B.zeros(1, 2, 5);
             Tensor x = B.zeros(4, 6); Tensor g = B.zeros(5); Tensor beta = B.zeros(6); Tensor mean = B.zeros(4); Tensor rstd = B.zeros(4); Tensor y = B.zeros(4, 6)) {
            refused(() -> B.attentionForward(q, k, v, o, lse, 1, false), "attentionForward", "k", "[1, 2, 6, 8]", "[1, 2, 6, 7]");
            try (Tensor qkv = B.zeros(1, 5, 2, 2, 8); Tensor qkv3 = B.zeros(1, 5, 3, 2, 8); Tensor po = B.zeros(1, 5, 2, 8)) {
                refused(() -> B.attentionPackedForward(qkv, po, lse, 1, false), "attentionPackedForward", "qkv", "[1, 5, 3, 2, 8]", "[1, 5, 2, 2, 8]");
                refused(() -> B.attentionPackedForward(qkv3, o, lse, 1, false), "attentionPackedForward", "out", "[1, 5, 2, 8]", "[1, 2, 5, 8]");
                refused(() -> B.attentionPackedBackward(qkv3, po, lse, po, qkv, 1, false), "attentionPackedBackward", "dqkv", "[1, 5, 3, 2, 8]", "[1, 5, 2, 2, 8]");
            }
            refused(() -> B.layerNormForward(x, g, beta, 1e-5f, y, mean, rstd), "layerNormForward", "gamma", "[6]", "[5]");
        }
    }

    @Test void layoutArguments() {
        try (Tensor x = B.zeros(2, 3, 4); Tensor o = B.zeros(4, 3, 2); Tensor s = B.zeros(2, 3, 2)) {
            refused(() -> B.permute(x, o, 0, 0, 1), "not a permutation");
            refused(() -> B.permute(x, o, 1, 2, 0), "out", "[3, 4, 2]", "[4, 3, 2]");
            refused(() -> B.slice(x, 2, 3, s), "range [3, 5) is outside axis 2 of size 4");
            refused(() -> B.concat(List.of(s, s), 1, s), "add up to 6 along axis 1, out has 3");
            refused(() -> B.concat(List.of(s, s), 1, x), "inputs[0] [2, 3, 2] differs from out [2, 3, 4] in axis 2");
            refused(() -> B.sum(x, s, 2), "sum", "out", "[2, 3]", "[2, 3, 2]");
            refused(() -> B.add(x, s, x), "b [2, 3, 2] must equal a [2, 3, 4] or its trailing dimensions");
        }
    }

    @Test void closedAndForeignTensorsAreRefused() {
        Tensor t = B.zeros(3);
        t.close();
        refused(() -> B.fill(t, 1), "fill", "already closed");
        try (CpuBackend other = new CpuBackend(); Tensor f = other.zeros(3); Tensor y = B.zeros(3)) {
            refused(() -> B.copy(f, y), "copy", "src", "another instance of backend 'cpu'");
        }
        refused(() -> B.upload(new float[5], 2, 2), "upload", "needs 4 floats, got 5");
        refused(() -> B.zeros(2, 3).reshape(4, 2), "cannot view [2, 3]");
    }

    @Test void memoryIsAccountedAndReleased() {
        long before = B.bytesInUse();
        Tensor a = B.zeros(1000);
        assertEquals(before + 4000, B.bytesInUse());
        Tensor view = a.reshape(10, 100);
        view.close(); // a view frees nothing
        assertEquals(before + 4000, B.bytesInUse());
        a.close();
        a.close(); // idempotent
        assertEquals(before, B.bytesInUse());
    }

    @Test void selectionIsStrictAndLoud() {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.open("tpu"));
        assertTrue(e.getMessage().contains("unknown backend 'tpu'") && e.getMessage().contains("cpu"), e.getMessage());
        try (Backend cpu = Backends.open("cpu", BackendOptions.defaults().withThreads(2))) {
            assertEquals("cpu", cpu.name());
            assertTrue(cpu.describe().contains("2 thread(s)"), cpu.describe());
        }
        IllegalArgumentException p = assertThrows(IllegalArgumentException.class, () -> new CpuBackend(new BackendOptions(1, Precision.TF32)));
        assertTrue(p.getMessage().contains("float32 only"), p.getMessage());
    }
}
