package dev.fovea.train;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.io.SafetensorsFile;
import dev.fovea.nn.Module;
import dev.fovea.optim.Sgd;
import dev.fovea.reference.ReferenceBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kills (SIGKILL) a process while it rewrites a large checkpoint over and over, at random moments, and checks that
 * the checkpoint on disk is always a whole one: loadable, every value from a single generation.
 */
class CheckpointKillTest {
    /** A model that is one large parameter, filled with its generation number. */
    static final class Big extends Module {
        final Var w;
        Big(Backend be, float generation) {
            float[] v = new float[8 << 20];
            java.util.Arrays.fill(v, generation);
            w = param("w", be.upload(v, v.length));
        }
    }

    static final TrainConfig CFG = TrainConfig.builder("big").epochs(1).batch(1).lr(0.1f).optimizer("sgd").momentum(0f).schedule("constant").warmup(0).build();

    /** The child: writes generations 1, 2, 3, ... to args[0] until killed, printing each one done. */
    public static void main(String[] args) throws Exception {
        Backend be = new ReferenceBackend();
        for (int g = 1; ; g++) {
            try (Big m = new Big(be, g); Sgd opt = new Sgd(be, m.namedParameters(), 0f, 0f, false)) {
                Checkpoint.save(Path.of(args[0]), m, opt, CFG, g, g, List.of());
            }
            System.out.println("written " + g);
        }
    }

    @TempDir Path tmp;

    @Test void killedWriterLeavesTheLastWholeCheckpoint() throws Exception {
        Path ckpt = tmp.resolve("checkpoint.safetensors");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        SplittableRandom r = new SplittableRandom(42);
        int lastSeen = 0, interrupted = 0;
        // until two kills have landed inside a write (a temporary file left behind proves it), at most 12 tries
        for (int round = 0; round < 12 && interrupted < 2; round++) {
            Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), CheckpointKillTest.class.getName(), ckpt.toString())
                    .redirectErrorStream(true).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            String line;
            do {
                line = out.readLine();
                assertTrue(line != null, "the writer died before its first checkpoint");
            } while (!line.startsWith("written "));
            Thread.sleep(20 + r.nextInt(400));      // somewhere inside a later write
            p.destroyForcibly();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            try (var s = Files.list(tmp)) {
                if (s.anyMatch(x -> x.getFileName().toString().endsWith(".tmp"))) interrupted++;
            }

            try (SafetensorsFile f = SafetensorsFile.open(ckpt)) {
                Checkpoint.Info info = Checkpoint.info(f);
                float[] w = f.floats("w");
                assertEquals(8 << 20, w.length);
                for (int i = 0; i < w.length; i += 4093) assertEquals(info.epochsDone(), w[i], 0f, "values of one generation");
                assertEquals(info.epochsDone(), w[w.length - 1], 0f);
                assertTrue(info.epochsDone() >= 1);
                lastSeen = info.epochsDone();
            }
        }
        assertTrue(lastSeen >= 1);
        assertTrue(interrupted >= 1, "no kill landed inside a write");
        // a later successful save clears the partial temporaries that the kills left behind
        try (Backend be = new ReferenceBackend(); Big m = new Big(be, 0); Sgd opt = new Sgd(be, m.namedParameters(), 0f, 0f, false)) {
            Checkpoint.save(ckpt, m, opt, CFG, 0, 0, List.of());
        }
        try (var s = Files.list(tmp)) {
            assertEquals(List.of("checkpoint.safetensors"), s.map(x -> x.getFileName().toString()).toList());
        }
    }
}
