package dev.fovea.golden;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.Decoding;
import dev.fovea.models.FixtureCheck;
import dev.fovea.models.SceneNet;
import dev.fovea.models.TransformerDecoder;
import dev.fovea.nn.Losses;
import dev.fovea.nn.Module;
import dev.fovea.nn.StateDict;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PyTorch's goldens for the models and losses beyond classification (written by tools/make-task-fixtures.py): the
 * Transformer decoder with and without cross-attention (logits, every parameter's gradient, the encoder tokens'
 * gradient; decoding through the key/value cache and without it, both equal to PyTorch's greedy decoding that
 * recomputes the whole prefix), SceneNet with all its heads (every output, every gradient, the input's) and the
 * smooth-L1, GIoU and Dice losses (loss and gradient), on the CPU backend and on the reference, within the relative
 * error the README states for PyTorch goldens.
 */
class TaskGoldenTest {
    static final double TOL = 5e-6;
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));
    static final ReferenceBackend REF = new ReferenceBackend();

    @AfterAll static void close() { CPU.close(); }

    static SafetensorsFile fixture(String name) throws Exception {
        return SafetensorsFile.open(Path.of(TaskGoldenTest.class.getResource("/fixtures/" + name).toURI()));
    }

    @TestFactory List<DynamicTest> goldens() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Backend be : List.<Backend>of(CPU, REF)) {
            tests.add(DynamicTest.dynamicTest("decoder with cross-attention on " + be.name(), () -> decoder(be, "decoder_cross.safetensors")));
            tests.add(DynamicTest.dynamicTest("decoder-only on " + be.name(), () -> decoder(be, "decoder_only.safetensors")));
            tests.add(DynamicTest.dynamicTest("SceneNet's heads on " + be.name(), () -> sceneNet(be)));
            tests.add(DynamicTest.dynamicTest("smooth-L1, GIoU and Dice on " + be.name(), () -> losses(be)));
        }
        return tests;
    }

    static void close(SafetensorsFile f, String name, Tensor got) {
        assertNotNull(got, name + ": nothing computed");
        float[] want = f.floats(name), g = got.toArray();
        assertEquals(want.length, g.length, name + ": " + want.length + " values expected, " + g.length + " computed");
        double err = FixtureCheck.relErr(g, want);
        assertTrue(err < TOL, name + ": relative error " + err + " (tolerance " + TOL + ")");
    }

    /** The module's parameters from the fixture (every one it has, nothing else). */
    static void loadParameters(Module m, SafetensorsFile f) {
        StateDict.load(m, f, n -> !n.startsWith("io.") && !n.startsWith("grad."));
    }

    /** Every parameter's gradient against grad.NAME. */
    static void gradients(Module m, SafetensorsFile f) {
        for (Map.Entry<String, Var> e : m.namedParameters().entrySet()) close(f, "grad." + e.getKey(), e.getValue().grad());
    }

    static int meta(SafetensorsFile f, String key) { return Integer.parseInt(f.metadata().get(key)); }

    static float[] floats(long[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i];
        return out;
    }

    static void decoder(Backend be, String file) throws Exception {
        try (SafetensorsFile f = fixture(file)) {
            boolean cross = Boolean.parseBoolean(f.metadata().get("cross"));
            TransformerDecoder.Config cfg = new TransformerDecoder.Config(meta(f, "vocab"), meta(f, "max_len"), meta(f, "dim"), meta(f, "depth"), meta(f, "heads"), cross);
            int[] idShape = f.entry("io.ids").shape();
            int b = idShape[0], len = idShape[1];
            try (TransformerDecoder d = new TransformerDecoder(be, cfg, 1)) {
                loadParameters(d, f);
                try (Tape t = Tape.training(be)) {
                    Var memory = cross ? t.leaf(be.upload(f.floats("io.memory"), f.entry("io.memory").shape())) : null;
                    Var logits = d.logits(t, floats(f.longs("io.ids")), b, len, memory);   // [B, L, V]
                    close(f, "io.logits", logits.value());
                    Var l = t.sum(t.mul(logits, t.constant(be.upload(f.floats("io.r.logits"), f.entry("io.r.logits").shape()))));
                    d.zeroGrad();
                    l.backward();
                    gradients(d, f);
                    if (cross) close(f, "io.grad.memory", memory.grad());
                }
                d.train(false);
                long[] greedy = f.longs("io.greedy"), start = f.longs("io.start");
                int steps = f.entry("io.greedy").shape()[1];
                for (boolean cached : new boolean[]{true, false}) {
                    int[][] got;
                    if (cross) {
                        try (Tensor mem = be.upload(f.floats("io.memory"), f.entry("io.memory").shape())) {
                            got = Decoding.greedy(d, be, mem, meta(f, "bos"), meta(f, "eos"), cfg.maxLen(), cached);
                        }
                    } else {
                        int[][] prefixes = new int[b][];
                        for (int i = 0; i < b; i++) prefixes[i] = new int[]{(int) start[i]};
                        got = Decoding.sample(d, be, prefixes, steps, cfg.vocab(), 0f, new SplittableRandom(1), cached);
                    }
                    for (int i = 0; i < b; i++) {
                        int[] want = Arrays.stream(Arrays.copyOfRange(greedy, i * steps, (i + 1) * steps)).filter(v -> v >= 0).mapToInt(v -> (int) v).toArray();
                        assertArrayEquals(want, got[i], (cached ? "cached" : "uncached") + " decoding of sequence " + i + " differs from PyTorch's");
                    }
                }
            }
        }
    }

    static void sceneNet(Backend be) throws Exception {
        try (SafetensorsFile f = fixture("scenenet.safetensors")) {
            SceneNet.Config cfg = new SceneNet.Config(meta(f, "img_size"), meta(f, "in_chans"), meta(f, "classes"), meta(f, "dim"), meta(f, "depth"),
                    meta(f, "heads"), true, true, true);
            try (SceneNet net = new SceneNet(be, cfg, 1); Tape t = Tape.training(be)) {
                loadParameters(net, f);
                Var x = t.leaf(be.upload(f.floats("io.input"), f.entry("io.input").shape()));
                SceneNet.Out out = net.heads(t, x);
                Map<String, Var> heads = Map.of("cls", out.cls(), "box", out.box(), "corners", out.corners(), "seg", out.seg(), "image", out.image());
                Var l = null;
                for (var e : heads.entrySet()) {
                    close(f, "io." + e.getKey(), e.getValue().value());
                    String r = "io.r." + e.getKey();
                    Var term = t.sum(t.mul(e.getValue(), t.constant(be.upload(f.floats(r), f.entry(r).shape()))));
                    l = l == null ? term : t.add(l, term);
                }
                net.zeroGrad();
                l.backward();
                gradients(net, f);
                close(f, "io.grad.input", x.grad());
            }
        }
    }

    static void losses(Backend be) throws Exception {
        try (SafetensorsFile f = fixture("losses.safetensors")) {
            float beta = Float.parseFloat(f.metadata().get("beta")), giouEps = Float.parseFloat(f.metadata().get("giou_eps")),
                    diceEps = Float.parseFloat(f.metadata().get("dice_eps"));
            record Case(String name, java.util.function.BiFunction<Tape, Var, Var> loss) {}
            List<Case> cases = List.of(
                    new Case("smoothl1", (t, p) -> Losses.smoothL1(t, p, constant(t, f, "smoothl1.target"), beta)),
                    new Case("smoothl1w", (t, p) -> Losses.smoothL1(t, p, constant(t, f, "smoothl1w.target"), beta, constant(t, f, "smoothl1w.weight"))),
                    new Case("giou", (t, p) -> Losses.giou(t, p, constant(t, f, "giou.target"), giouEps)),
                    new Case("giouw", (t, p) -> Losses.giou(t, p, constant(t, f, "giouw.target"), giouEps, constant(t, f, "giouw.weight"))),
                    new Case("dice", (t, p) -> Losses.dice(t, p, constant(t, f, "dice.target"), diceEps)));
            for (Case c : cases) {
                try (Tape t = Tape.training(be)) {
                    Var pred = t.leaf(be.upload(f.floats(c.name() + ".pred"), f.entry(c.name() + ".pred").shape()));
                    Var loss = c.loss().apply(t, pred);
                    close(f, c.name() + ".loss", loss.value());
                    loss.backward();
                    close(f, c.name() + ".grad", pred.grad());
                }
            }
        }
    }

    static Var constant(Tape t, SafetensorsFile f, String name) {
        return t.constant(t.backend().upload(f.floats(name), f.entry(name).shape()));
    }
}
