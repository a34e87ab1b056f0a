package dev.fovea.cli;

import dev.fovea.bench.OpenBlas;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a user meets it: output, last lines and exit codes. */
public class CliTest {
    public record Run(int code, String out, String err) {
        public String lastLine() {
            String[] l = out.strip().split("\n");
            return l[l.length - 1];
        }
    }

    public static synchronized Run run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @Test void infoListsJavaVectorCoresAndBackends() {
        Run r = run("info", "--threads", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("java: 25"), r.out());
        assertTrue(r.out().contains("vector: Species[float"), r.out());
        assertTrue(r.out().contains("cores: "), r.out());
        assertTrue(r.out().contains("backend cpu: JDK Vector API") && r.out().contains("2 thread(s)"), r.out());
    }

    @Test void benchGemmEndsWithTheSummaryLine() {
        Run r = run("bench", "gemm", "--n", "96", "--threads", "2", "--repeats", "3", "--warmup", "0.05", "--seconds", "0.02", "--settle", "0");
        assertEquals(0, r.code(), r.err());
        String num = "[0-9]+\\.[0-9]+";
        if (OpenBlas.unavailableReason() == null) {
            assertTrue(Pattern.matches("gemm n=96 threads=2 fovea=" + num + " openblas=" + num + " GFLOP/s ratio=" + num, r.lastLine()), r.lastLine());
            assertTrue(r.out().contains("results agree"), r.out());
        } else {
            assertTrue(Pattern.matches("gemm n=96 threads=2 fovea=" + num + " openblas=n/a GFLOP/s ratio=n/a", r.lastLine()), r.lastLine());
            assertTrue(r.out().contains("apt-get install libopenblas-dev"), r.out());
        }
    }

    /** The error line for a mistyped option points to `--help`: every command and subcommand must answer it. */
    @Test void everyCommandAnswersHelp() {
        for (String[] cmd : new String[][]{{"train"}, {"pretrain"}, {"predict"}, {"bench", "gemm"}, {"bench", "train"}, {"bench", "infer"}}) {
            String[] args = java.util.Arrays.copyOf(cmd, cmd.length + 1);
            args[cmd.length] = "--help";
            Run r = run(args);
            assertEquals(0, r.code(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.out().startsWith("Usage: fovea " + String.join(" ", cmd)), r.out());
            assertTrue(r.out().contains("--threads"), String.join(" ", args) + " lists its options: " + r.out());
        }
        Run unknown = run("train", "--frobnicate");
        assertTrue(unknown.err().contains("`fovea train --help` lists the options"), unknown.err());
    }

    @Test void userErrorsAreOneLineAndNonZero() {
        Run bad = run("bench", "gemm", "--n", "-3");
        assertEquals(2, bad.code());
        assertEquals("fovea: error: --n must be >= 1, got -3", bad.err().strip());
        Run unknown = run("bench", "gemm", "--frobnicate");
        assertTrue(unknown.code() != 0);
        assertTrue(unknown.err().contains("Unknown option: '--frobnicate'"), unknown.err());
        assertFalse(unknown.err().contains("\tat "), "no stack trace");
    }
}
