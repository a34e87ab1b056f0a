package dev.fovea.distributed;

import dev.fovea.train.Collective;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The MPI collective in processes mpirun starts (two and three ranks, oversubscribing the cores): sums, broadcasts of
 * tensors and bytes, a barrier, a bad root refused ({@link MpiCheck}). Needs Open MPI (apt-get install openmpi-bin
 * libopenmpi-dev): skipped, saying so, where mpirun is absent, and failed instead under CI=true.
 */
class MpiCollectiveTest {
    static Path mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) {
                try { return p.toRealPath(); } catch (java.io.IOException e) { return p; }
            }
        }
        return null;
    }

    static List<String> command(Path mpirun, int ranks) {
        List<String> cmd = new ArrayList<>(List.of(mpirun.toString(), "--oversubscribe", "-np", Integer.toString(ranks)));
        if ("root".equals(System.getProperty("user.name"))) cmd.add(1, "--allow-run-as-root");
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), MpiCheck.class.getName()));
        return cmd;
    }

    @Test void ranksSumBroadcastAndWaitTogether() throws Exception {
        Path mpirun = mpirun();
        if (mpirun == null && "true".equals(System.getenv("CI"))) throw new AssertionError("CI: mpirun is missing (apt-get install openmpi-bin libopenmpi-dev)");
        assumeTrue(mpirun != null, "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)");
        for (int ranks : new int[]{2, 3}) {
            Process p = new ProcessBuilder(command(mpirun, ranks)).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "mpirun did not finish");
            assertEquals(0, p.exitValue(), out);
            for (int r = 0; r < ranks; r++)
                assertTrue(out.contains("ok rank=" + r + " size=" + ranks + " " + ranks + " processes over Open MPI"), out);
        }
    }

    @Test void oneProcessNeedsNoCommunication() {
        Collective c = Collective.single();
        assertEquals(0, c.rank());
        assertEquals(1, c.size());
        byte[] b = {1, 2};
        assertSame(b, c.broadcast(b, 0));
        assertThrows(IllegalArgumentException.class, () -> c.broadcast(b, 1));
    }
}
