package dev.fovea.bench;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.cuda.CudaBackend;
import dev.fovea.cuda.CudaGraph;
import dev.fovea.models.Models;
import dev.fovea.models.ViTConfig;
import dev.fovea.models.VisionTransformer;
import dev.fovea.nn.Layer;
import dev.fovea.optim.Optimizer;
import dev.fovea.optim.Sgd;
import dev.fovea.tensor.Tensor;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Throughput on a device backend, where the peer is PyTorch on the same card (its figures, measured on an H100, are
 * printed beside ours by tools/gpu-check.sh): square SGEMM, ViT inference on random weights, and training steps with
 * each step queued op by op (eager) or replayed as one CUDA graph. Every timed window ends with a synchronize, so the
 * clock sees the device's work, not only its queueing.
 */
public final class DeviceBench {
    private DeviceBench() {}

    interface Work { void run(); }

    /** Median over repeats of calls per second, each repeat at least {@code seconds} long, after {@code warmup}. */
    static double rate(Backend be, Work w, double warmup, int repeats, double seconds, PrintStream log) {
        long t0 = System.nanoTime();
        do { w.run(); be.synchronize(); } while (System.nanoTime() - t0 < warmup * 1e9);
        double[] r = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long s = System.nanoTime(), n = 0;
            do { w.run(); n++; if (n % 8 == 0) be.synchronize(); } while (System.nanoTime() - s < seconds * 1e9);
            be.synchronize();
            r[i] = n / ((System.nanoTime() - s) / 1e9);
            log.printf(Locale.ROOT, "  repeat %d: %.1f calls/s%n", i + 1, r[i]);
        }
        Arrays.sort(r);
        return r[repeats / 2];
    }

    /** TFLOP/s of C[n×n] = A·B on the backend. */
    public static double gemm(Backend be, int n, double warmup, int repeats, double seconds, PrintStream log) {
        SplittableRandom rnd = new SplittableRandom(1);
        float[] a = new float[n * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        try (Tensor ta = be.upload(a, n, n); Tensor tb = be.upload(a, n, n); Tensor tc = be.empty(n, n)) {
            double calls = rate(be, () -> be.gemm(ta, false, tb, false, tc, 1f, 0f), warmup, repeats, seconds, log);
            return calls * 2.0 * n * n * n / 1e12;
        }
    }

    /** Images per second of a forward pass of a ViT preset (random weights) at the given batch. */
    public static double infer(Backend be, String preset, int batch, double warmup, int repeats, double seconds, PrintStream log) {
        ViTConfig cfg = ViTConfig.preset(preset);
        float[] x = new float[batch * cfg.inChans() * cfg.imgSize() * cfg.imgSize()];
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (VisionTransformer net = new VisionTransformer(be, cfg, 1);
             Tensor input = be.upload(x, batch, cfg.inChans(), cfg.imgSize(), cfg.imgSize())) {
            net.train(false);
            double calls = rate(be, () -> {
                try (Tape t = Tape.inference(be)) { net.forward(t, t.constantView(input)); }
            }, warmup, repeats, seconds, log);
            return calls * batch;
        }
    }

    /**
     * Images per second of SGD-momentum training steps of a model on one fixed random batch (the data's cost is not
     * the device's): eager, or captured once as a CUDA graph and replayed.
     */
    public static double train(Backend be, String model, int batch, boolean graph, double warmup, int repeats, double seconds, PrintStream log) {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = new float[batch * 784], y = new float[batch];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < batch; i++) y[i] = rnd.nextInt(10);
        try (Layer net = Models.create(be, model, null, 1); Optimizer opt = new Sgd(be, net.namedParameters(), 0.9f, 0f, false);
             Tensor xs = be.upload(x, batch, 1, 28, 28); Tensor ys = be.upload(y, batch)) {
            Runnable step = () -> {
                try (Tape t = Tape.training(be)) {
                    Var loss = t.crossEntropy(net.forward(t, t.constantView(xs)), t.constantView(ys), 0f);
                    net.zeroGrad();
                    loss.backward();
                    opt.step(0.01f);
                }
            };
            if (!graph) return rate(be, step::run, warmup, repeats, seconds, log) * batch;
            if (!(be instanceof CudaBackend cuda)) throw new IllegalArgumentException("--graph needs --backend cuda (CUDA graphs), got " + be.name());
            step.run(); // gradients, optimizer state and the allocator's blocks exist before the capture
            try (CudaGraph g = cuda.capture(step)) {
                return rate(be, g::replay, warmup, repeats, seconds, log) * batch;
            }
        }
    }
}
