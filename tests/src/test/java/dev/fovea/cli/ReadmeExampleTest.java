package dev.fovea.cli;

import dev.fovea.data.ImageDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedded-use example in README.md, compiled and run as a user would: it must print a class name. */
class ReadmeExampleTest {
    @TempDir Path tmp;

    @Test void readmeExampleCompilesAndRuns() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        int mark = readme.indexOf("<!-- embedded-example -->");
        assertTrue(mark >= 0, "README.md lost its embedded example");
        int start = readme.indexOf("```java\n", mark) + 8, end = readme.indexOf("```", start);
        Path src = tmp.resolve("Example.java");
        Files.writeString(src, readme.substring(start, end));
        String cp = System.getProperty("java.class.path");
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null,
                "--add-modules", "jdk.incubator.vector", "-cp", cp, "-d", tmp.toString(), src.toString());
        assertEquals(0, rc, "the README example does not compile");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "--add-modules", "jdk.incubator.vector", "-cp", tmp + java.io.File.pathSeparator + cp, "Example")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        String last = out.strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(Arrays.asList(ImageDataset.FASHION_CLASSES).contains(last), "prints a class name: " + out);
    }
}
