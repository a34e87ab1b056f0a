package dev.fovea.cli;

import dev.fovea.backend.Backend;
import dev.fovea.bench.DecodeBench;
import dev.fovea.bench.DeviceBench;
import dev.fovea.bench.GemmBench;
import dev.fovea.bench.InferBench;
import dev.fovea.bench.TrainBench;
import dev.fovea.data.ImageDataset;
import dev.fovea.data.ImageTokens;
import dev.fovea.models.ImageGenerator;
import dev.fovea.tasks.GenerationTask;
import dev.fovea.models.Models;
import dev.fovea.bench.OpenBlas;
import dev.fovea.train.Collective;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

import java.util.concurrent.Callable;

/** {@code fovea bench ...}: throughput side by side with a named peer. */
@Command(name = "bench", description = "Benchmarks, side by side with a peer.", subcommands = {BenchCommand.Gemm.class, BenchCommand.Train.class, BenchCommand.Infer.class, BenchCommand.Decode.class, BenchCommand.Soak.class})
final class BenchCommand {

    @Command(name = "gemm", description = {"Square SGEMM: Fovea's CPU kernel against OpenBLAS cblas_sgemm on the same data.",
            "Last line: gemm n=N threads=T fovea=X openblas=Y GFLOP/s ratio=Z"})
    static final class Gemm implements Callable<Integer> {
        @Option(names = "--n", description = "matrix size (default: ${DEFAULT-VALUE})") int n = 1024;
        @Option(names = "--threads", description = "threads for both (default: all cores)") int threads;
        @Option(names = "--repeats", description = "timed repeats, median reported (default: ${DEFAULT-VALUE})") int repeats = 7;
        @Option(names = "--warmup", description = "warm-up seconds per side (default: ${DEFAULT-VALUE})") double warmup = 2.0;
        @Option(names = "--seconds", description = "seconds per timed repeat per side (default: ${DEFAULT-VALUE})") double seconds = 0.5;
        @Option(names = "--settle", description = "seconds of pause before each timed side (default: ${DEFAULT-VALUE}; OpenBLAS's threads keep spinning for a while after a call)") double settle = 0.5;
        @Option(names = "--openblas-core", description = "OpenBLAS kernel family (OPENBLAS_CORETYPE): auto, native, SkylakeX, Haswell, ... (default: ${DEFAULT-VALUE})")
        String core = "auto";
        @Option(names = "--backend", description = "cpu (against OpenBLAS) or cuda (device TFLOP/s; tools/gpu-check.sh prints PyTorch's beside) (default: ${DEFAULT-VALUE})") String backend = "cpu";
        @Option(names = "--precision", description = "fp32, tf32 or bf16 (cuda only; default: ${DEFAULT-VALUE})") String precision = "fp32";

        @Override public Integer call() {
            if (!backend.equals("cpu")) {
                EngineOptions e = new EngineOptions();
                e.backend = backend;
                e.precision = precision;
                try (Backend be = e.open()) {
                    System.out.printf(Locale.ROOT, "gemm: C[%d×%d] = A·B on %s, precision %s%n", n, n, be.describe().lines().findFirst().orElse(""), e.precision());
                    double tflops = DeviceBench.gemm(be, n, warmup, repeats, seconds, System.out);
                    System.out.printf(Locale.ROOT, "gemm n=%d backend=%s precision=%s tflops=%.1f%n", n, be.name(), precision, tflops);
                    return 0;
                }
            }
            int t = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
            if (t < 1) throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            if (n < 1) throw new IllegalArgumentException("--n must be >= 1, got " + n);
            String note = OpenBlas.preferAvx512Kernels(core);
            if (note != null) System.out.println("note: " + note);
            OpenBlas.load().ifPresent(o -> System.out.println("openblas: " + o.path() + ", core " + o.coreName() + " (" + o.config() + ")"));
            System.out.printf("gemm: C[%d×%d] = A·B, float32, %d thread(s)%n", n, n, t);
            if (settle < 0) throw new IllegalArgumentException("--settle must be >= 0, got " + settle);
            GemmBench.Result r = GemmBench.run(n, t, repeats, warmup, seconds, settle, System.out);
            if (!Double.isNaN(r.relErr())) System.out.printf("results agree: relative error %.2e%n", r.relErr());
            System.out.println(r.line());
            return 0;
        }
    }

    @Command(name = "soak", description = {"A soak test: many training steps, sampling the backend's live tensor bytes and the heap after GC.",
            "Both should stay flat. Last line: soak model=M steps=N tensors_bytes=FIRST..LAST (max MAX) heap_mb=FIRST..LAST (max MAX)"})
    static final class Soak implements Callable<Integer> {
        @Option(names = "--model", description = "lenet5, lenet5-full or vit (default: ${DEFAULT-VALUE})") String model = "lenet5";
        @Option(names = "--steps", description = "training steps (default: ${DEFAULT-VALUE})") long steps = 10_000;
        @Option(names = "--every", description = "sample every N steps (default: ${DEFAULT-VALUE})") long every = 1_000;
        @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})") int batch = 64;
        @Option(names = "--data", description = "directory of MNIST-format IDX files (default: Fashion-MNIST as train uses it)") Path data;
        @Mixin EngineOptions engine;

        @Override public Integer call() throws IOException {
            Models.validate(model, null);
            if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
            ImageDataset.Splits splits = ImageDataset.resolve(data);
            try (Backend be = engine.open()) {
                System.out.printf(Locale.ROOT, "bench soak: %s, batch %d, %,d steps on %s, %s%n", model, batch, steps, splits.description(),
                        be.describe().lines().findFirst().orElse(be.name()));
                var samples = dev.fovea.bench.SoakBench.run(be, model, batch, splits.train(), steps, every, System.out);
                var first = samples.getFirst();
                var last = samples.getLast();
                long maxBytes = samples.stream().mapToLong(dev.fovea.bench.SoakBench.Sample::bytesInUse).max().orElse(0);
                long maxHeap = samples.stream().mapToLong(dev.fovea.bench.SoakBench.Sample::heapAfterGc).max().orElse(0);
                System.out.printf(Locale.ROOT, "soak model=%s steps=%d tensors_bytes=%d..%d (max %d) heap_mb=%.1f..%.1f (max %.1f)%n", model, steps,
                        first.bytesInUse(), last.bytesInUse(), maxBytes, first.heapAfterGc() / 1e6, last.heapAfterGc() / 1e6, maxHeap / 1e6);
                return 0;
            }
        }
    }

    @Command(name = "train", description = {"Training throughput: whole SGD steps on real batches after a warm-up, median of repeats.",
            "Last line: train model=M batch=B threads=T images_per_s=X [pytorch=Y ratio=Z]"})
    static final class Train implements Callable<Integer> {
        @Option(names = "--model", description = "lenet5, lenet5-full or vit (default: ${DEFAULT-VALUE})") String model = "lenet5-full";
        @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})") int batch = 64;
        @Option(names = "--data", description = "directory of MNIST-format IDX files (default: Fashion-MNIST as train uses it)") Path data;
        @Option(names = "--repeats", description = "timed repeats, median reported (default: ${DEFAULT-VALUE})") int repeats = 5;
        @Option(names = "--warmup", description = "warm-up seconds (default: ${DEFAULT-VALUE}; the Vector API kernels need C2)") double warmup = 6;
        @Option(names = "--seconds", description = "seconds per timed repeat (default: ${DEFAULT-VALUE})") double seconds = 2;
        @Option(names = "--profile", description = "also print each op's time per step, forward and backward, and the GFLOP/s of the products (linear, conv2d, attention)") boolean profile;
        @Option(names = "--graph", description = "cuda: capture one training step as a CUDA graph and replay it (one fixed batch)") boolean graph;
        @Option(names = "--pytorch", paramLabel = "PYTHON", description = "cpu: also train the same model in PyTorch (tools/bench-train-torch.py, run by this python, which has torch), its windows alternating with ours")
        String pytorch;
        @Mixin EngineOptions engine;
        @Mixin RanksOptions parallel;

        @Override public Integer call() throws IOException {
            Models.validate(model, null);
            if (pytorch != null && (!engine.backend.equals("cpu") || graph))
                throw new IllegalArgumentException("--pytorch compares the cpu backend with PyTorch on the CPU; tools/gpu-check.sh prints PyTorch's GPU figures");
            if (!engine.backend.equals("cpu") || graph) {
                if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
                try (Backend be = engine.open()) {
                    String mode = graph ? "graph" : "eager";
                    System.out.printf(Locale.ROOT, "bench train: %s, batch %d, %s (%s), one fixed random batch; warm-up %.0f s, %d x %.0f s%n",
                            model, batch, be.describe().lines().findFirst().orElse(be.name()), mode, warmup, repeats, seconds);
                    double rate = DeviceBench.train(be, model, batch, graph, warmup, repeats, seconds, System.out);
                    System.out.printf(Locale.ROOT, "train model=%s batch=%d backend=%s precision=%s mode=%s images_per_s=%.0f%n", model, batch,
                            be.name(), engine.precision, mode, rate);
                    return 0;
                }
            }
            if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
            if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
            ImageDataset.Splits splits = ImageDataset.resolve(data);
            System.out.println("data: " + splits.description());
            try (Backend be = engine.open()) {
                System.out.printf(Locale.ROOT, "bench train: %s, batch %d, %d thread(s), %s; warm-up %.0f s, %d x %.0f s%n", model, batch,
                        engine.resolvedThreads(), be.name(), warmup, repeats, seconds);
                Collective ranks = Distributed.collective(be);
                TrainBench.Result r = TrainBench.run(be, model, batch, engine.resolvedThreads(), splits.train(), warmup, repeats, seconds, profile,
                        System.out, ranks, parallel.bucketBytes(), pytorch);
                System.out.printf(Locale.ROOT, "train model=%s batch=%d threads=%d%s images_per_s=%.0f%s%n", model, batch, engine.resolvedThreads(),
                        ranks.size() > 1 ? " ranks=" + ranks.size() : "", r.imagesPerSecond(),
                        pytorch == null ? "" : String.format(Locale.ROOT, " pytorch=%.0f ratio=%.2f", r.pytorch(), r.ratio()));
                return 0;
            }
        }
    }

    @Command(name = "decode", description = {"Autoregressive decoding with the key/value cache against recomputing the whole prefix at every token:",
            "the image generator drawing whole images (49 tokens each), after a warm-up, medians of interleaved repeats.",
            "Last line: decode model=generator batch=B threads=T cached=X uncached=Y tokens/s speedup=Z"})
    static final class Decode implements Callable<Integer> {
        @Option(names = "--weights", description = "a checkpoint of train --task generate (default: a fresh generator of the default size; the time does not depend on the weights)")
        Path weights;
        @Option(names = "--batch", description = "images drawn at once (default: ${DEFAULT-VALUE})") int batch = 1;
        @Option(names = "--repeats", description = "timed repeats, median reported (default: ${DEFAULT-VALUE})") int repeats = 5;
        @Option(names = "--warmup", description = "warm-up seconds (default: ${DEFAULT-VALUE})") double warmup = 6;
        @Option(names = "--seconds", description = "seconds per timed repeat per side (default: ${DEFAULT-VALUE})") double seconds = 2;
        @Mixin EngineOptions engine;

        @Override public Integer call() throws IOException {
            if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
            if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
            try (Backend be = engine.open();
                 ImageGenerator net = weights != null ? GenerationTask.load(be, weights).net()
                         : new ImageGenerator(be, ImageGenerator.Config.standard(ImageTokens.FASHION, 10), 1)) {
                System.out.printf(Locale.ROOT, "bench decode: generator %s, batch %d, %d thread(s), %s; warm-up %.0f s, %d x %.0f s a side%n",
                        weights != null ? weights : "(fresh, width " + net.config().dim() + ", depth " + net.config().depth() + ")", batch, engine.resolvedThreads(), be.name(), warmup, repeats, seconds);
                double[] r = DecodeBench.run(be, net, batch, warmup, repeats, seconds, System.out);
                System.out.printf(Locale.ROOT, "decode model=generator batch=%d threads=%d cached=%.0f uncached=%.0f tokens/s speedup=%.2f%n", batch,
                        engine.resolvedThreads(), r[0], r[1], r[0] / r[1]);
                return 0;
            }
        }
    }

    @Command(name = "infer", description = {"ViT inference: Fovea against ONNX Runtime on the same weights and images, after a warm-up, medians of repeats.",
            "Last line: infer model=M batch=B threads=T fovea=X onnxruntime=Y images/s ratio=Z"})
    static final class Infer implements Callable<Integer> {
        @Option(names = "--weights", description = "timm ViT safetensors (e.g. shared/fixtures/vit_ti16_224.safetensors); cpu: required") Path weights;
        @Option(names = "--onnx", description = "the same network as ONNX (input NCHW, output logits); cpu: required") Path onnx;
        @Option(names = "--model", description = "cuda: a ViT preset run on random weights (default: ${DEFAULT-VALUE})") String model = "vit_base_patch16_224";
        @Option(names = "--batch", description = "images per call (default: ${DEFAULT-VALUE})") int batch = 32;
        @Option(names = "--repeats", description = "timed repeats, median reported (default: ${DEFAULT-VALUE})") int repeats = 5;
        @Option(names = "--warmup", description = "warm-up seconds per side (default: ${DEFAULT-VALUE})") double warmup = 10;
        @Option(names = "--seconds", description = "seconds per timed repeat per side (default: ${DEFAULT-VALUE})") double seconds = 3;
        @Option(names = "--profile", description = "cpu: after the repeats, Fovea's passes for --seconds more, each op's time a pass and the products' GFLOP/s") boolean profile;
        @Mixin EngineOptions engine;

        @Override public Integer call() throws Exception {
            if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
            if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
            if (!engine.backend.equals("cpu")) {
                try (Backend be = engine.open()) {
                    System.out.printf(Locale.ROOT, "bench infer: %s (random weights), batch %d, %s%n", model, batch, be.describe().lines().findFirst().orElse(be.name()));
                    double rate = DeviceBench.infer(be, model, batch, warmup, repeats, seconds, System.out);
                    System.out.printf(Locale.ROOT, "infer model=%s batch=%d backend=%s precision=%s images/s=%.1f%n", model, batch, be.name(), engine.precision, rate);
                    return 0;
                }
            }
            if (weights == null || onnx == null) throw new IllegalArgumentException("bench infer on the cpu needs --weights and --onnx (ONNX Runtime is the peer)");
            if (!java.nio.file.Files.isRegularFile(onnx)) throw new java.nio.file.NoSuchFileException(onnx + " (no such ONNX file)");
            int t = engine.resolvedThreads();
            try (Backend be = engine.open()) {
                InferBench.Result r = InferBench.run(be, weights, onnx, batch, t, warmup, repeats, seconds, profile, System.out);
                String stem = weights.getFileName().toString().replaceFirst("\\.safetensors$", "");
                System.out.printf(Locale.ROOT, "infer model=%s batch=%d threads=%d fovea=%.1f onnxruntime=%.1f images/s ratio=%.3f%n",
                        stem, batch, t, r.fovea(), r.onnxruntime(), r.fovea() / r.onnxruntime());
                return 0;
            }
        }
    }
}
