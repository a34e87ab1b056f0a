package dev.fovea.cli;

import dev.fovea.backend.BackendUnavailableException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.UncheckedIOException;

/** The {@code fovea} command. User errors print one line and exit non-zero, without a stack trace. */
@Command(name = "fovea", mixinStandardHelpOptions = true, version = "fovea 0.1.0",
        description = "A deep-learning engine for the JVM: CNNs and Vision Transformers on the Vector API (and CUDA).",
        subcommands = {TrainCommand.class, PretrainCommand.class, FinetuneCommand.class, EvalCommand.class, PredictCommand.class, CaptionCommand.class, GenerateCommand.class, FilterCommand.class, ScenesCommand.class, CheckCommand.class, InfoCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (for tests and embedding). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (isUserError(ex)) {
                cmd.getErr().println("fovea: error: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl.execute(args);
    }

    /** Errors caused by what the user asked for or gave us, as opposed to bugs. */
    static boolean isUserError(Throwable ex) {
        return ex instanceof IllegalArgumentException || ex instanceof BackendUnavailableException
                || ex instanceof IOException || ex instanceof UncheckedIOException;
    }
}
