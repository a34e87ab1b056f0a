package dev.fovea.autograd;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.models.Captioner;
import dev.fovea.models.Models;
import dev.fovea.models.SceneNet;
import dev.fovea.nn.Layer;
import dev.fovea.nn.Module;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tape's gradient-ready hook, which data-parallel training uses to start summing gradients while backward goes on:
 * for every model, each parameter is reported once, and what its gradient holds when it is reported is what it holds
 * when backward has finished (nothing is added to it afterwards).
 */
class GradientReadyTest {
    static final CpuBackend CPU = new CpuBackend(new BackendOptions(2, Precision.FP32));

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Runs {@code loss} with the hook, checking what each reported gradient holds against the final ones. */
    static void check(String name, Module model, Function<Tape, Var> loss) {
        Map<Var, float[]> atReport = new IdentityHashMap<>();
        List<String> order = new ArrayList<>();
        Map<Var, String> names = new IdentityHashMap<>();
        model.namedParameters().forEach((k, v) -> names.put(v, k));
        model.zeroGrad();
        try (Tape t = Tape.training(CPU)) {
            t.onGradientReady(p -> {
                assertNull(atReport.put(p, p.grad() == null ? null : p.grad().toArray()), name + ": " + names.get(p) + " reported twice");
                order.add(names.get(p));
            });
            loss.apply(t).backward();
        }
        int withGrad = 0;
        for (var e : model.namedParameters().entrySet()) {
            Var p = e.getValue();
            if (p.grad() == null) continue;
            withGrad++;
            assertTrue(atReport.containsKey(p), name + ": " + e.getKey() + " has a gradient but was never reported");
            assertArrayEquals(p.grad().toArray(), atReport.get(p), name + ": " + e.getKey() + "'s gradient changed after it was reported");
        }
        assertEquals(withGrad, atReport.size(), name + ": reported " + order);
        assertTrue(withGrad > 3, name);
        // backward completes the head first: the first reported is not the first parameter of the model
        assertTrue(!order.getFirst().equals(model.namedParameters().keySet().iterator().next()), name + ": " + order);
    }

    @Test void everyParameterIsReportedOnceWithItsFinalGradient() {
        for (String m : List.of("lenet5", "lenet5-full", "vit")) {
            try (Layer net = Models.create(CPU, m, null, 1)) {
                check(m, net, t -> t.crossEntropy(net.forward(t, t.constant(CPU.upload(random(4 * 28 * 28, 2), 4, 1, 28, 28))),
                        t.constant(CPU.upload(new float[]{1, 7, 3, 0}, 4)), 0.1f));
            }
        }
        SceneNet.Config sc = new SceneNet.Config(64, 1, 10, 16, 1, 2, true, true, true);
        try (SceneNet net = new SceneNet(CPU, sc, 3)) {
            check("scene", net, t -> {
                SceneNet.Out o = net.heads(t, t.constant(CPU.upload(random(2 * 64 * 64, 4), 2, 1, 64, 64)));
                return t.add(t.add(t.sum(t.mul(o.box(), o.box())), t.sum(t.mul(o.seg(), o.seg()))), t.add(t.sum(t.mul(o.cls(), o.cls())), t.sum(t.mul(o.image(), o.image()))));
            });
        }
        Captioner.Config cc = new Captioner.Config(16, 1, 16, 1, 2, 1, 12, 8);
        try (Captioner net = new Captioner(CPU, cc, 5)) {
            int[][] tokens = {{1, 4, 5, 6, 2, 0, 0, 0}, {1, 7, 8, 2, 0, 0, 0, 0}};
            check("captioner", net, t -> net.loss(t, t.constant(CPU.upload(random(2 * 16 * 16, 6), 2, 1, 16, 16)), tokens)[0]);
        }
    }

    @Test void theHookIsSetBeforeAnyOp() {
        try (Layer net = Models.create(CPU, "lenet5", null, 1); Tape t = Tape.training(CPU)) {
            net.forward(t, t.constant(CPU.upload(random(28 * 28, 2), 1, 1, 28, 28)));
            assertThrows(IllegalStateException.class, () -> t.onGradientReady(p -> {}));
        }
    }
}
