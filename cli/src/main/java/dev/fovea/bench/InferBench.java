package dev.fovea.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.fovea.autograd.Tape;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.models.FixtureCheck;
import dev.fovea.models.ViTConfig;
import dev.fovea.models.VisionTransformer;
import dev.fovea.nn.StateDict;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * ViT inference throughput, Fovea against ONNX Runtime (its Java API, CPU execution provider) on the same weights and
 * the same batch of images: a time-based warm-up for each, then repeats that alternate which runs first; medians.
 */
public final class InferBench {
    private InferBench() {}

    public record Result(double fovea, double onnxruntime, double relErr) {}

    /** A side: runs one batch, returning its logits. */
    private interface Side { float[] run() throws OrtException; }

    /** With {@code profile}, Fovea's passes for another {@code seconds} after the repeats print each op's time a pass. */
    public static Result run(Backend be, Path weights, Path onnx, int batch, int threads, double warmup, int repeats, double seconds,
                             boolean profile, PrintStream log) throws IOException, OrtException {
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            ViTConfig cfg = ViTConfig.fromFile(f);
            log.printf(Locale.ROOT, "model: %s: ViT %dx%d, patch %d, width %d, depth %d, %d heads, %d classes%n", weights.getFileName(),
                    cfg.imgSize(), cfg.imgSize(), cfg.patchSize(), cfg.embedDim(), cfg.depth(), cfg.numHeads(), cfg.numClasses());
            float[] x = new float[batch * cfg.inChans() * cfg.imgSize() * cfg.imgSize()];
            SplittableRandom r = new SplittableRandom(17);
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            int[] shape = {batch, cfg.inChans(), cfg.imgSize(), cfg.imgSize()};
            try (VisionTransformer vit = new VisionTransformer(be, cfg, 0);
                 OrtEnvironment env = OrtEnvironment.getEnvironment();
                 OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
                StateDict.load(vit, f, n -> !n.startsWith("io.") && !n.startsWith("grad."));
                vit.train(false);
                opts.setIntraOpNumThreads(threads);
                opts.setInterOpNumThreads(1);
                opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                try (OrtSession session = env.createSession(onnx.toString(), opts);
                     OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), Arrays.stream(shape).asLongStream().toArray())) {
                    String name = session.getInputNames().iterator().next();
                    Side ours = () -> {
                        try (Tape t = Tape.inference(be)) {
                            return vit.forward(t, t.constant(be.upload(x, shape))).value().toArray();
                        }
                    };
                    Side peer = () -> {
                        try (OrtSession.Result res = session.run(Map.of(name, input))) {
                            float[][] out = (float[][]) res.get(0).getValue();
                            float[] flat = new float[out.length * out[0].length];
                            for (int i = 0; i < out.length; i++) System.arraycopy(out[i], 0, flat, i * out[0].length, out[0].length);
                            return flat;
                        }
                    };
                    double err = FixtureCheck.relErr(ours.run(), peer.run());
                    if (err < 1e-4) log.printf(Locale.ROOT, "logits agree: relative error %.2e (fovea vs onnxruntime %s)%n", err, ortVersion());
                    else log.printf(Locale.ROOT, "logits differ: relative error %.2e: the ONNX file does not carry these weights; this compares speed only (onnxruntime %s)%n", err, ortVersion());
                    rate(ours, warmup, batch);
                    rate(peer, warmup, batch);
                    double[] a = new double[repeats], b = new double[repeats];
                    for (int i = 0; i < repeats; i++) {
                        boolean oursFirst = i % 2 == 0;
                        if (oursFirst) { a[i] = rate(ours, seconds, batch); b[i] = rate(peer, seconds, batch); }
                        else { b[i] = rate(peer, seconds, batch); a[i] = rate(ours, seconds, batch); }
                        log.printf(Locale.ROOT, "  repeat %d: fovea %.1f, onnxruntime %.1f images/s%n", i + 1, a[i], b[i]);
                    }
                    if (profile) {
                        Tape.Profile p = new Tape.Profile();
                        long t0 = System.nanoTime(), passes = 0;
                        do {
                            try (Tape t = Tape.inference(be).profile(p)) {
                                vit.forward(t, t.constant(be.upload(x, shape))).value().toArray();
                            }
                            passes++;
                        } while (System.nanoTime() - t0 < (long) (seconds * 1e9));
                        TrainBench.printProfile(p, passes, "pass", log);
                    }
                    return new Result(median(a), median(b), err);
                }
            }
        }
    }

    private static String ortVersion() {
        try { return OrtEnvironment.getEnvironment().getVersion(); } catch (RuntimeException e) { return "?"; }
    }

    /** Whole batches for at least {@code seconds} (and at least one); images per second. */
    private static double rate(Side side, double seconds, int batch) throws OrtException {
        long t0 = System.nanoTime(), limit = (long) (seconds * 1e9);
        int n = 0;
        do { side.run(); n++; } while (System.nanoTime() - t0 < limit);
        return (double) n * batch / ((System.nanoTime() - t0) / 1e9);
    }

    /** The middle of the sorted values (the upper one of an even count), as the benches report. */
    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
