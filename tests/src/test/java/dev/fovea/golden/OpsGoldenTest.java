package dev.fovea.golden;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import dev.fovea.backend.Backends;
import dev.fovea.testing.Bed;
import dev.fovea.testing.Gpu;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every case of PyTorch's ops.safetensors, forward and backward, on the CPU backend and on the reference:
 * outputs and input gradients within relative error 1e-5; on the CUDA backend (FP32) within 1e-4 where a GPU is,
 * skipped with the reason where not. Case parameters come from the file's metadata.
 */
class OpsGoldenTest {
    static final double TOL = 1e-5, CUDA_TOL = 1e-4;
    static Backend cuda;
    static SafetensorsFile ops;
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    static final ReferenceBackend REF = new ReferenceBackend();

    @BeforeAll static void open() throws Exception {
        ops = SafetensorsFile.open(Path.of(OpsGoldenTest.class.getResource("/fixtures/ops.safetensors").toURI()));
    }

    @AfterAll static void close() {
        ops.close();
        CPU.close();
        if (cuda != null) cuda.close();
    }

    static List<String> cases() {
        TreeSet<String> names = new TreeSet<>();
        for (String n : ops.names()) names.add(n.substring(0, n.indexOf('.')));
        return List.copyOf(names);
    }

    /** Guards against a fixture update that adds a case this test would silently skip. */
    @Test void everyCaseIsHandled() {
        List<String> known = List.of("avgpool0", "conv0", "conv1", "conv2", "conv3", "conv4", "conv5", "gelu_erf", "gelu_tanh",
                "layernorm0", "linear0", "maxpool0", "maxpool1", "relu0", "sdpa_causal", "sdpa_full", "sigmoid0", "softmax0", "tanh0", "xent0");
        assertEquals(known, cases());
    }

    @TestFactory List<DynamicTest> golden() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Backend b : List.of(CPU, REF))
            for (String c : cases())
                tests.add(DynamicTest.dynamicTest(c + " forward and backward on " + b.name(), () -> runCase(b, c)));
        return tests;
    }

    static int intParam(String meta, String key) {
        Matcher m = Pattern.compile(key + "=?(\\d+)").matcher(meta);
        if (!m.find()) throw new AssertionError("metadata '" + meta + "' has no " + key);
        return Integer.parseInt(m.group(1));
    }

    @TestFactory List<DynamicTest> goldenOnCuda() {
        Gpu.assume();
        cuda = Backends.open("cuda", new BackendOptions(0, Precision.FP32));
        List<DynamicTest> tests = new ArrayList<>();
        for (String c : cases()) tests.add(DynamicTest.dynamicTest(c + " forward and backward on cuda", () -> runCase(cuda, c)));
        return tests;
    }

    /** Runs case c on backend b; returns the tensors computed, by fixture suffix, compared against the file. */
    static void runCase(Backend b, String c) {
        String meta = ops.metadata().get(c);
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (String n : ops.names())
            if (n.startsWith(c + ".")) in.put(n.substring(c.length() + 1), b.upload(ops.floats(n), ops.entry(n).shape()));
        Map<String, Tensor> got = new LinkedHashMap<>();
        try {
            Tensor x = in.get("in0"), dy = in.get("grad_out");
            if (c.startsWith("conv")) {
                Conv2dSpec s = new Conv2dSpec(intParam(meta, "pad"), intParam(meta, "pad"), intParam(meta, "stride"), intParam(meta, "stride"), intParam(meta, "groups"));
                Tensor w = in.get("in1"), bias = in.get("in2");
                got.put("out", b.zeros(in.get("out").shape()));
                b.conv2dForward(x, w, bias, got.get("out"), s);
                got.put("grad_in0", b.zeros(x.shape()));
                got.put("grad_in1", b.zeros(w.shape()));
                got.put("grad_in2", b.zeros(bias.shape()));
                b.conv2dBackwardData(dy, w, got.get("grad_in0"), s);
                b.conv2dBackwardFilter(x, dy, got.get("grad_in1"), s);
                b.conv2dBackwardBias(dy, got.get("grad_in2"));
            } else if (c.contains("pool")) {
                int k = intParam(meta, "k"), st = intParam(meta, " s"), pad = meta.contains("pad") ? intParam(meta, "pad") : 0;
                Pool2dSpec s = new Pool2dSpec(c.startsWith("max") ? Pool2dSpec.Mode.MAX : Pool2dSpec.Mode.AVG, k, k, st, st, pad, pad);
                got.put("out", b.zeros(in.get("out").shape()));
                b.pool2dForward(s, x, got.get("out"));
                got.put("grad_in0", b.zeros(x.shape()));
                b.pool2dBackward(s, x, got.get("out"), dy, got.get("grad_in0"));
            } else if (c.equals("linear0")) {
                Tensor w = in.get("in1"), bias = in.get("in2");
                int f = x.dim(-1), o = w.dim(0), rows = x.numel() / f;
                Tensor x2 = x.reshape(rows, f), dy2 = dy.reshape(rows, o);
                Tensor y = b.zeros(rows, o), yb = b.zeros(rows, o);
                b.gemm(x2, false, w, true, y, 1f, 0f);          // y = x Wᵀ
                b.add(y, bias, yb);
                got.put("out", yb.reshape(in.get("out").shape()));
                Tensor dx = b.zeros(rows, f), dw = b.zeros(o, f), db = b.zeros(o);
                b.gemm(dy2, false, w, false, dx, 1f, 0f);       // dx = dy W
                b.gemm(dy2, true, x2, false, dw, 1f, 0f);       // dW = dyᵀ x
                b.sum(dy2, db, 0);
                got.put("grad_in0", dx.reshape(x.shape()));
                got.put("grad_in1", dw);
                got.put("grad_in2", db);
                y.close();
            } else if (c.equals("layernorm0")) {
                Tensor g = in.get("in1"), beta = in.get("in2");
                int rows = x.numel() / x.dim(-1);
                Tensor mean = b.zeros(rows), rstd = b.zeros(rows);
                got.put("out", b.zeros(x.shape()));
                b.layerNormForward(x, g, beta, 1e-6f, got.get("out"), mean, rstd);
                got.put("grad_in0", b.zeros(x.shape()));
                got.put("grad_in1", b.zeros(g.shape()));
                got.put("grad_in2", b.zeros(beta.shape()));
                b.layerNormBackward(dy, x, g, mean, rstd, got.get("grad_in0"), got.get("grad_in1"), got.get("grad_in2"));
                mean.close();
                rstd.close();
            } else if (c.equals("softmax0")) {
                got.put("out", b.zeros(x.shape()));
                b.softmaxForward(x, got.get("out"), false);
                got.put("grad_in0", b.zeros(x.shape()));
                b.softmaxBackward(got.get("out"), dy, got.get("grad_in0"));
            } else if (c.startsWith("sdpa")) {
                boolean causal = c.endsWith("causal");
                Tensor k = in.get("in1"), v = in.get("in2");
                float scale = (float) (1 / Math.sqrt(x.dim(3)));
                Tensor lse = b.zeros(x.dim(0), x.dim(1), x.dim(2));
                got.put("out", b.zeros(x.shape()));
                b.attentionForward(x, k, v, got.get("out"), lse, scale, causal);
                got.put("grad_in0", b.zeros(x.shape()));
                got.put("grad_in1", b.zeros(k.shape()));
                got.put("grad_in2", b.zeros(v.shape()));
                b.attentionBackward(x, k, v, got.get("out"), lse, dy, got.get("grad_in0"), got.get("grad_in1"), got.get("grad_in2"), scale, causal);
                lse.close();
            } else if (c.equals("xent0")) {
                Matcher m = Pattern.compile("labels \\[([0-9, ]+)]").matcher(meta);
                if (!m.find()) throw new AssertionError("xent0 metadata has no labels: " + meta);
                String[] parts = m.group(1).split(",\\s*");
                float[] lab = new float[parts.length];
                for (int i = 0; i < parts.length; i++) lab[i] = Integer.parseInt(parts[i].trim());
                Tensor labels = b.upload(lab, lab.length), probs = b.zeros(x.shape());
                got.put("out", b.zeros());
                b.crossEntropyForward(x, labels, probs, got.get("out"), 0f);
                got.put("grad_in0", b.zeros(x.shape()));
                b.crossEntropyBackward(probs, labels, dy, got.get("grad_in0"), 0f);
                labels.close();
                probs.close();
            } else {
                Activation f = switch (c) {
                    case "gelu_erf" -> Activation.GELU;
                    case "gelu_tanh" -> Activation.GELU_TANH;
                    case "tanh0" -> Activation.TANH;
                    case "sigmoid0" -> Activation.SIGMOID;
                    case "relu0" -> Activation.RELU;
                    default -> throw new AssertionError("no runner for case " + c);
                };
                got.put("out", b.zeros(x.shape()));
                b.activationForward(f, x, got.get("out"));
                got.put("grad_in0", b.zeros(x.shape()));
                b.activationBackward(f, x, got.get("out"), dy, got.get("grad_in0"));
            }
            // everything the fixture gives as an output or input gradient must have been computed and must match
            for (String k : in.keySet()) {
                if (!(k.equals("out") || k.startsWith("grad_in"))) continue;
                Tensor t = got.get(k);
                if (t == null) throw new AssertionError(c + "." + k + " was not computed");
                assertEquals(java.util.Arrays.toString(in.get(k).shape()), java.util.Arrays.toString(t.shape()), c + "." + k + " shape");
                double e = Bed.relErr(t.toArray(), in.get(k).toArray());
                double tol = b.name().equals("cuda") ? CUDA_TOL : TOL;
                if (!(e < tol)) throw new AssertionError(c + "." + k + " on " + b.name() + ": relative error " + e + " >= " + tol);
            }
        } finally {
            got.values().forEach(Tensor::close);
            in.values().forEach(Tensor::close);
        }
    }
}
