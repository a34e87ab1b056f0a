package dev.fovea.autograd;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.models.LeNet5;
import dev.fovea.nn.Conv2d;
import dev.fovea.nn.Init;
import dev.fovea.nn.Losses;
import dev.fovea.reference.ReferenceBackend;
import dev.fovea.testing.Bed;
import dev.fovea.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every tape op's backward against central finite differences of its forward, on the reference backend: the loss is
 * Σ op(inputs) ⊙ R for a fixed random R, so every output element's gradient is exercised. Also the tape's
 * bookkeeping: accumulation when a Var is used twice, parameters keeping their gradients, temporaries freed.
 */
class TapeGradientTest {
    static final Backend REF = new ReferenceBackend();
    static final double TOL = 1e-2, EPS = 1e-2;

    /** An op under test: builds its output from the leaves on a tape. */
    interface Op extends BiFunction<Tape, List<Var>, Var> {}

    record Case(String name, int[][] shapes, Op op) {}

    static final float[] TARGET16 = {0.3f, -1.2f, 2.5f, 0f, 0.9f, -0.4f, 1.7f, -2.2f, 0.1f, 0.6f, -0.8f, 1.1f, -1.6f, 0.4f, 2.9f, -0.3f};
    /** Target boxes (x0, y0, x1, y1) for the GIoU case. */
    static final float[] BOXES = {-0.3f, 0.2f, 1.1f, 1.4f, 0.5f, -0.9f, 2.0f, 0.3f, -1.4f, -1.1f, -0.2f, 0.6f, 0.8f, 0.7f, 1.9f, 2.6f, -0.6f, 0.4f, 0.9f, 1.3f};

    static List<Case> cases() {
        SplittableRandom dropSeed = new SplittableRandom(3);
        return List.of(
                new Case("conv2d pad 1 stride 2 groups 2 with bias", new int[][]{{2, 4, 7, 6}, {6, 2, 3, 3}, {6}},
                        (t, v) -> t.conv2d(v.get(0), v.get(1), v.get(2), new Conv2dSpec(1, 1, 2, 2, 2))),
                new Case("conv2d 5x5 stride 1 (direct path on cpu)", new int[][]{{2, 3, 9, 9}, {4, 3, 5, 5}, {4}},
                        (t, v) -> t.conv2d(v.get(0), v.get(1), v.get(2), Conv2dSpec.of(2, 1))),
                new Case("max pool 3 stride 2 pad 1", new int[][]{{2, 3, 7, 7}}, (t, v) -> t.pool2d(Pool2dSpec.max(3, 2, 1), v.get(0))),
                new Case("avg pool 2 stride 2", new int[][]{{2, 3, 6, 8}}, (t, v) -> t.pool2d(Pool2dSpec.avg(2, 2, 0), v.get(0))),
                new Case("relu", new int[][]{{3, 17}}, (t, v) -> t.activation(Activation.RELU, v.get(0))),
                new Case("sigmoid", new int[][]{{3, 17}}, (t, v) -> t.activation(Activation.SIGMOID, v.get(0))),
                new Case("tanh", new int[][]{{3, 17}}, (t, v) -> t.activation(Activation.TANH, v.get(0))),
                new Case("gelu", new int[][]{{3, 17}}, (t, v) -> t.activation(Activation.GELU, v.get(0))),
                new Case("gelu tanh", new int[][]{{3, 17}}, (t, v) -> t.activation(Activation.GELU_TANH, v.get(0))),
                new Case("scaled tanh (LeCun)", new int[][]{{3, 17}}, (t, v) -> t.activation(Activation.SCALED_TANH, v.get(0))),
                new Case("scale", new int[][]{{4, 5}}, (t, v) -> t.scale(v.get(0), -1.7f)),
                new Case("linear on rank 3", new int[][]{{2, 3, 5}, {4, 5}, {4}}, (t, v) -> t.linear(v.get(0), v.get(1), v.get(2))),
                new Case("linear without bias", new int[][]{{3, 5}, {4, 5}}, (t, v) -> t.linear(v.get(0), v.get(1), null)),
                new Case("linear with a residual (epilogue)", new int[][]{{2, 3, 5}, {4, 5}, {4}, {2, 3, 4}},
                        (t, v) -> t.linear(v.get(0), v.get(1), v.get(2), v.get(3))),
                new Case("linear without bias, with a residual", new int[][]{{3, 5}, {4, 5}, {3, 4}},
                        (t, v) -> t.linear(v.get(0), v.get(1), null, v.get(2))),
                new Case("linear with its own input as the residual", new int[][]{{3, 4}, {4, 4}, {4}},
                        (t, v) -> t.linear(v.get(0), v.get(1), v.get(2), v.get(0))),
                new Case("flatten then linear", new int[][]{{2, 2, 3, 3}, {5, 18}, {5}}, (t, v) -> t.linear(t.flatten(v.get(0)), v.get(1), v.get(2))),
                new Case("add with broadcast bias", new int[][]{{3, 4, 5}, {4, 5}}, (t, v) -> t.add(v.get(0), v.get(1))),
                new Case("mul with broadcast", new int[][]{{3, 4, 5}, {5}}, (t, v) -> t.mul(v.get(0), v.get(1))),
                new Case("layer norm", new int[][]{{3, 4, 8}, {8}, {8}}, (t, v) -> t.layerNorm(v.get(0), v.get(1), v.get(2), 1e-5f)),
                new Case("cross-entropy", new int[][]{{5, 7}}, (t, v) -> t.crossEntropy(v.get(0), t.constant(REF.upload(new float[]{0, 6, 3, 3, 1}, 5)), 0f)),
                new Case("cross-entropy with label smoothing", new int[][]{{5, 7}}, (t, v) -> t.crossEntropy(v.get(0), t.constant(REF.upload(new float[]{2, 0, 5, 1, 1}, 5)), 0.1f)),
                new Case("div with broadcast (denominator 1 + b²)", new int[][]{{3, 4, 5}, {5}},
                        (t, v) -> t.div(v.get(0), t.add(t.mul(v.get(1), v.get(1)), t.constant(REF.upload(new float[]{1, 1, 1, 1, 1}, 5))))),
                new Case("smooth-L1 loss", new int[][]{{4, 4}}, (t, v) -> Losses.smoothL1(t, t.scale(v.get(0), 2f), t.constant(REF.upload(TARGET16, 4, 4)), 1f)),
                new Case("GIoU loss (boxes from corners and squared sizes)", new int[][]{{5, 2}, {5, 2}},
                        (t, v) -> Losses.giou(t, t.concat(1, v.get(0), t.add(v.get(0), t.add(t.mul(v.get(1), v.get(1)), t.constant(REF.upload(new float[]{0.5f, 0.5f}, 2))))),
                                t.constant(REF.upload(BOXES, 5, 4)), 1e-7f)),
                new Case("smooth-L1 loss, weighted sum", new int[][]{{4, 4}}, (t, v) -> Losses.smoothL1(t, t.scale(v.get(0), 2f), t.constant(REF.upload(TARGET16, 4, 4)), 0.5f,
                        t.constant(REF.upload(new float[]{1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2, 1, 0, 1, 0}, 4, 4)))),
                new Case("GIoU loss, weighted sum", new int[][]{{5, 2}, {5, 2}},
                        (t, v) -> Losses.giou(t, t.concat(1, v.get(0), t.add(v.get(0), t.add(t.mul(v.get(1), v.get(1)), t.constant(REF.upload(new float[]{0.5f, 0.5f}, 2))))),
                                t.constant(REF.upload(BOXES, 5, 4)), 1e-7f, t.constant(REF.upload(new float[]{1, 0, 2, 1, 0}, 5, 1)))),
                new Case("embedding (an id repeated)", new int[][]{{6, 5}}, (t, v) -> t.embedding(v.get(0), t.constant(REF.upload(new float[]{4, 0, 4, 2}, 4)))),
                new Case("Dice loss", new int[][]{{3, 6}}, (t, v) -> Losses.dice(t, t.activation(Activation.SIGMOID, v.get(0)),
                        t.constant(REF.upload(new float[]{1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0}, 3, 6)), 1e-6f)),
                new Case("sum", new int[][]{{3, 7}}, (t, v) -> t.sum(v.get(0))),
                new Case("dropout (fixed mask)", new int[][]{{4, 9}}, (t, v) -> t.dropout(v.get(0), 0.3f, dropSeed.split())),
                new Case("a Var used twice: x*x + tanh(x)", new int[][]{{3, 6}}, (t, v) -> t.add(t.mul(v.get(0), v.get(0)), t.activation(Activation.TANH, v.get(0)))));
    }

    @TestFactory List<DynamicTest> gradients() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Case c : cases()) tests.add(DynamicTest.dynamicTest(c.name(), () -> check(c)));
        return tests;
    }

    /** loss(values) = Σ op(values) ⊙ r, on a fresh training tape. */
    static double loss(Case c, float[][] values, float[] r, float[][] gradsOut) {
        try (Tape t = Tape.training(REF)) {
            List<Var> leaves = new ArrayList<>();
            for (int i = 0; i < values.length; i++) leaves.add(t.leaf(REF.upload(values[i], c.shapes()[i])));
            Var y = c.op().apply(t, leaves);
            Var l = t.sum(t.mul(y, t.constant(REF.upload(r, y.shape()))));
            double v = l.value().toArray()[0];
            if (gradsOut != null) {
                l.backward();
                for (int i = 0; i < values.length; i++) gradsOut[i] = leaves.get(i).grad().toArray();
            }
            return v;
        }
    }

    static void check(Case c) {
        SplittableRandom rng = new SplittableRandom(c.name().hashCode());
        float[][] values = new float[c.shapes().length][];
        for (int i = 0; i < values.length; i++) values[i] = Bed.random(rng, count(c.shapes()[i]));
        int outCount;
        try (Tape t = Tape.inference(REF)) {
            List<Var> leaves = new ArrayList<>();
            for (int i = 0; i < values.length; i++) leaves.add(t.leaf(REF.upload(values[i].clone(), c.shapes()[i])));
            outCount = c.op().apply(t, leaves).value().numel();
        }
        float[] r = Bed.random(rng, outCount);
        // dropout draws its mask from a stream: re-seed it identically for every evaluation
        Case fixed = c.name().startsWith("dropout") ? new Case(c.name(), c.shapes(), (t, v) -> t.dropout(v.get(0), 0.3f, new SplittableRandom(11))) : c;
        // max pooling is piecewise linear: a smaller step crosses fewer near-ties between window elements
        double eps = c.name().startsWith("max pool") ? 1e-3 : EPS;
        float[][] grads = new float[values.length][];
        loss(fixed, values, r, grads);
        for (int i = 0; i < values.length; i++) {
            double[] numeric = new double[values[i].length], analytic = new double[values[i].length];
            for (int j = 0; j < values[i].length; j++) {
                float keep = values[i][j];
                values[i][j] = (float) (keep + eps);
                double up = loss(fixed, values, r, null);
                values[i][j] = (float) (keep - eps);
                double down = loss(fixed, values, r, null);
                values[i][j] = keep;
                numeric[j] = (up - down) / ((double) (float) (keep + eps) - (float) (keep - eps));
                analytic[j] = grads[i][j];
            }
            double err = Bed.relErr(analytic, numeric);
            assertTrue(err < TOL, c.name() + ": input " + i + " gradient relative error " + err);
        }
    }

    static int count(int[] s) { int n = 1; for (int d : s) n *= d; return n; }

    @Test void parameterGradientsAccumulateUntilZeroed() {
        Var w = Var.parameter(REF.upload(new float[]{1, 2, 3}, 3));
        for (int step = 1; step <= 2; step++) {
            try (Tape t = Tape.training(REF)) {
                t.sum(t.mul(t.constant(REF.upload(new float[]{1, 1, 1}, 3)), w)).backward();
            }
            assertEquals(step, w.grad().toArray()[0], 0f, "the second backward without zeroGrad adds");
        }
        w.zeroGrad();
        assertNull(w.grad());
        w.release();
    }

    @Test void tapeFreesItsTemporaries() {
        long before = REF.bytesInUse();
        Var w = Var.parameter(REF.upload(new float[]{1, 2, 3, 4}, 2, 2));
        long withParam = REF.bytesInUse();
        try (Tape t = Tape.training(REF)) {
            Var x = t.constant(REF.upload(new float[]{1, 0, 0, 1}, 2, 2));
            t.sum(t.activation(Activation.TANH, t.linear(x, w, null))).backward();
            assertTrue(REF.bytesInUse() > withParam);
        }
        assertEquals(withParam + 16, REF.bytesInUse(), "only the parameter and its gradient remain");
        w.release();
        assertEquals(before, REF.bytesInUse());
    }

    @Test void inferenceTapeRecordsNothing() {
        Var w = Var.parameter(REF.upload(new float[]{1, 2}, 2));
        try (Tape t = Tape.inference(REF)) {
            Var y = t.sum(t.mul(t.constant(REF.upload(new float[]{3, 4}, 2)), w));
            assertEquals(11f, y.value().toArray()[0]);
            assertThrows(IllegalStateException.class, y::backward);
        }
        w.release();
    }

    @Test void connectionTableMasksGradients() {
        Init init = new Init(5);
        try (Conv2d c3 = new Conv2d(REF, init, 6, 16, 5, Conv2dSpec.of(0, 1), LeNet5.c3Table()); Tape t = Tape.training(REF)) {
            Var x = t.constant(REF.upload(Bed.random(new SplittableRandom(1), 2 * 6 * 7 * 7), 2, 6, 7, 7));
            t.sum(c3.forward(t, x)).backward();
            float[] g = c3.weight.grad().toArray(), w = c3.weight.value().toArray();
            boolean[][] table = LeNet5.c3Table();
            for (int o = 0; o < 16; o++)
                for (int c = 0; c < 6; c++)
                    for (int k = 0; k < 25; k++) {
                        int i = (o * 6 + c) * 25 + k;
                        if (!table[o][c]) {
                            assertTrue(g[i] == 0f, "unconnected weight " + o + "," + c + " got gradient " + g[i]);
                            assertTrue(w[i] == 0f, "unconnected weight " + o + "," + c + " is " + w[i]);
                        }
                    }
            assertNotNull(c3.bias.grad());
            assertEquals(60 * 25 + 16, c3.parameterCount());
        }
    }
}
