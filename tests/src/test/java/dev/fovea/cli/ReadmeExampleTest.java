package dev.fovea.cli;

import dev.fovea.data.ImageDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedded-use examples in README.md, compiled and run as a user would: the training example writes a checkpoint,
 * and the prediction example classifies an image with it, printing class names first.
 */
class ReadmeExampleTest {
    @TempDir Path tmp;

    String example(String readme, String name, String className) throws Exception {
        int mark = readme.indexOf("<!-- embedded-example: " + name + " -->");
        assertTrue(mark >= 0, "README.md lost its " + name + " example");
        int start = readme.indexOf("```java\n", mark) + 8, end = readme.indexOf("```", start);
        Path src = tmp.resolve(className + ".java");
        Files.writeString(src, readme.substring(start, end));
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null,
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "-d", tmp.toString(), src.toString());
        assertEquals(0, rc, "the README's " + name + " example does not compile");
        return className;
    }

    String run(String className, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                "-cp", tmp + java.io.File.pathSeparator + System.getProperty("java.class.path"), className));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out.strip().lines().reduce((a, b) -> b).orElse("");
    }

    @Test void readmeExamplesCompileAndRun() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        String checkpoint = run(example(readme, "train", "TrainExample"));
        assertTrue(Files.isRegularFile(Path.of(checkpoint)), "the training example prints its checkpoint: " + checkpoint);
        String answer = run(example(readme, "predict", "Example"), checkpoint, Path.of("..", "examples", "classify-image", "ankle-boot.png").toString());
        assertTrue(answer.matches("\\[(.+) [01]\\.[0-9]{3}, .+ [01]\\.[0-9]{3}, .+ [01]\\.[0-9]{3}]"), "three classes with probabilities: " + answer);
        String first = answer.substring(1, answer.indexOf(" 0.") > 0 ? answer.indexOf(" 0.") : answer.indexOf(" 1."));
        assertTrue(Arrays.asList(ImageDataset.FASHION_CLASSES).contains(first), "a class name first: " + answer);
    }
}
