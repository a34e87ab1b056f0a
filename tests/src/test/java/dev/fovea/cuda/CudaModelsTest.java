package dev.fovea.cuda;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Backends;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.FixtureCheck;
import dev.fovea.models.Models;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.optim.Sgd;
import dev.fovea.testing.Bed;
import dev.fovea.testing.Gpu;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole models on the GPU: PyTorch's golden fixtures (logits, loss, every gradient), training steps that agree with
 * the CPU's and lower the loss, a CUDA-graph replay equal to the eager step, and device memory that stays flat over
 * 10,000 steps. Skipped, with the reason, where no GPU is usable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaModelsTest {
    Backend cuda;
    final CpuBackend cpu = new CpuBackend(new BackendOptions(2, Precision.FP32));

    @BeforeAll void open() {
        if (Gpu.available()) cuda = Backends.open("cuda", new BackendOptions(0, Precision.FP32));
    }

    @BeforeEach void gpu() { Gpu.assume(); }

    @AfterAll void close() {
        if (cuda != null) cuda.close();
        cpu.close();
    }

    static Path fixture(String name) throws Exception {
        return Path.of(CudaModelsTest.class.getResource("/fixtures/" + name).toURI());
    }

    @ParameterizedTest
    @ValueSource(strings = {"lenet5.safetensors", "vit_tiny_c3_32.safetensors", "vit_tiny_c1_28.safetensors"})
    void pytorchGoldenFixtures(String name) throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixture(name))) {
            List<FixtureCheck.Result> rs = FixtureCheck.run(cuda, f);
            assertTrue(rs.size() > 10, name + ": " + rs.size() + " tensors compared");
            for (FixtureCheck.Result r : rs) assertTrue(r.pass(), name + ": " + r);
        }
    }

    /** One SGD step of a model on a fixed batch, from the same initial weights; returns the parameters after it. */
    static Map<String, float[]> step(Backend be, String model, int steps, float[] losses) {
        int batch = 16, side = 28;
        SplittableRandom r = new SplittableRandom(7);
        float[] x = Bed.random(r, batch * side * side), y = new float[batch];
        for (int i = 0; i < batch; i++) y[i] = i % 10;
        try (Layer net = Models.create(be, model, null, 3); Optimizer opt = new Sgd(be, net.namedParameters(), 0.9f, 0f, false)) {
            for (int s = 0; s < steps; s++)
                try (Tape t = Tape.training(be)) {
                    Var logits = net.forward(t, t.constant(be.upload(x, batch, 1, side, side)));
                    Var loss = t.crossEntropy(logits, t.constant(be.upload(y, batch)), 0f);
                    losses[s] = loss.value().toArray()[0];
                    net.zeroGrad();
                    loss.backward();
                    opt.step(0.05f);
                }
            Map<String, float[]> out = new java.util.TreeMap<>();
            net.namedParameters().forEach((k, v) -> out.put(k, v.value().toArray()));
            return out;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lenet5", "lenet5-full", "vit"})
    void trainingStepsMatchTheCpuAndLowerTheLoss(String model) {
        int steps = 20;
        float[] lg = new float[steps], lc = new float[steps];
        Map<String, float[]> g = step(cuda, model, steps, lg), c = step(cpu, model, steps, lc);
        assertTrue(lg[steps - 1] < 0.5f * lg[0], model + ": loss " + lg[0] + " -> " + lg[steps - 1]);
        for (int s = 0; s < steps; s++) assertEquals(lc[s], lg[s], 1e-3f * Math.max(1f, Math.abs(lc[s])), model + " loss at step " + s);
        for (String k : c.keySet()) {
            double err = Bed.relErr(g.get(k), c.get(k));
            assertTrue(err < 1e-3, model + ": " + k + " differs from the CPU's after " + steps + " steps by " + err);
        }
    }

    @Test void aGraphReplayedStepEqualsTheEagerStep() {
        CudaBackend be = (CudaBackend) cuda;
        int batch = 64;
        SplittableRandom r = new SplittableRandom(11);
        float[] x = Bed.random(r, batch * 784), y = new float[batch];
        for (int i = 0; i < batch; i++) y[i] = (i * 7) % 10;
        try (Layer eager = Models.create(be, "lenet5-full", null, 5); Layer graphed = Models.create(be, "lenet5-full", null, 5);
             Optimizer oe = new Sgd(be, eager.namedParameters(), 0.9f, 0f, false);
             Optimizer og = new Sgd(be, graphed.namedParameters(), 0.9f, 0f, false);
             Tensor xs = be.upload(x, batch, 1, 28, 28); Tensor ys = be.upload(y, batch)) {
            Runnable stepOf = () -> trainStep(be, graphed, og, xs, ys);
            stepOf.run(); // eager warm-up: gradients, optimizer state and cached blocks exist before the capture
            trainStep(be, eager, oe, xs, ys);
            try (CudaGraph graph = be.capture(stepOf)) {
                for (int i = 0; i < 5; i++) {
                    graph.replay();
                    trainStep(be, eager, oe, xs, ys);
                }
                be.synchronize();
                for (var e : eager.namedParameters().entrySet())
                    assertArrayEquals(e.getValue().value().toArray(), graphed.namedParameters().get(e.getKey()).value().toArray(), 0f, e.getKey());
            }
        }
    }

    static void trainStep(Backend be, Layer net, Optimizer opt, Tensor x, Tensor y) {
        try (Tape t = Tape.training(be)) {
            Var loss = t.crossEntropy(net.forward(t, t.constantView(x)), t.constantView(y), 0f);
            net.zeroGrad();
            loss.backward();
            opt.step(0.05f);
        }
    }

    @Test void deviceMemoryStaysFlatOver10000Steps() {
        CudaBackend be = (CudaBackend) cuda;
        int batch = 64;
        float[] x = Bed.random(new SplittableRandom(3), batch * 784), y = new float[batch];
        try (Layer net = Models.create(be, "lenet5", null, 5); Optimizer opt = new Sgd(be, net.namedParameters(), 0.9f, 0f, false);
             Tensor xs = be.upload(x, batch, 1, 28, 28); Tensor ys = be.upload(y, batch)) {
            for (int i = 0; i < 100; i++) trainStep(be, net, opt, xs, ys);
            be.synchronize();
            long live = be.bytesInUse(), reserved = be.bytesReserved();
            for (int i = 0; i < 10_000; i++) trainStep(be, net, opt, xs, ys);
            be.synchronize();
            assertEquals(live, be.bytesInUse(), "bytes in live tensors after 10,000 more steps");
            assertEquals(reserved, be.bytesReserved(), "device bytes reserved after 10,000 more steps");
        }
    }
}
