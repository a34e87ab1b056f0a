package dev.fovea.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;

/**
 * PyTorch training the same model in another process (tools/bench-train-torch.py, carried in the jar), driven window
 * by window so that {@link TrainBench} can alternate its windows with Fovea's on the same cores. The process is
 * stopped, and its copy of the script deleted, on {@link #close}.
 */
final class TorchPeer implements AutoCloseable {
    static final String SCRIPT = "bench-train-torch.py";

    private final Process process;
    private final BufferedReader out;
    private final PrintWriter in;
    private final Path script;
    private final Deque<String> lastLines = new ArrayDeque<>();
    private final String python;
    /** What it said when it started: its torch version and threads. */
    final String banner;

    /** Starts {@code python} on the script for the model, batch and threads; fails naming the cause (no python, no torch). */
    TorchPeer(String python, String model, int batch, int threads) throws IOException {
        this.python = python;
        script = Files.createTempFile("fovea-bench-train-torch", ".py");
        try (InputStream s = TorchPeer.class.getResourceAsStream(SCRIPT)) {
            if (s == null) throw new IllegalStateException(SCRIPT + " is missing from the jar (rebuild it: mvn install)");
            Files.write(script, s.readAllBytes());
        }
        ProcessBuilder pb = new ProcessBuilder(python, script.toString(), "--serve", "--model", model, "--batch", Integer.toString(batch),
                "--threads", Integer.toString(threads)).redirectErrorStream(true);
        try {
            process = pb.start();
        } catch (IOException e) {
            Files.deleteIfExists(script);
            throw new IllegalArgumentException("--pytorch " + python + ": cannot run it (" + e.getMessage() + ")");
        }
        out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        in = new PrintWriter(process.outputWriter(StandardCharsets.UTF_8), true);
        try {
            banner = expect("ready").substring("ready ".length());
        } catch (IOException | RuntimeException e) {               // not constructed: nobody will close it
            process.destroyForcibly();
            Files.deleteIfExists(script);
            throw e;
        }
    }

    void warmup(double seconds) throws IOException {
        in.printf(Locale.ROOT, "warmup %.3f%n", seconds);
        expect("ok");
    }

    /** PyTorch's images per second over whole steps for about {@code seconds}. */
    double window(double seconds) throws IOException {
        in.printf(Locale.ROOT, "window %.3f%n", seconds);
        return Double.parseDouble(expect("rate").substring("rate ".length()));
    }

    /** The next line that starts with {@code word}; if the process ends first, an error with what it printed last. */
    private String expect(String word) throws IOException {
        for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith(word)) return line;
            lastLines.addLast(line);
            if (lastLines.size() > 8) lastLines.removeFirst();
        }
        throw new IllegalArgumentException("--pytorch " + python + ": the PyTorch side stopped (" + SCRIPT + "; torch installed? python3 -m venv V && "
                + "V/bin/pip install torch==2.13.0+cpu): " + String.join(" | ", lastLines));
    }

    @Override public void close() throws IOException {
        in.println("quit");
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
