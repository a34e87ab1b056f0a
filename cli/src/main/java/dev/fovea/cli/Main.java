package dev.fovea.cli;

import dev.fovea.backend.BackendUnavailableException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * The {@code fovea} command. Errors print one line, without a stack trace (see {@link #run}). Its -h/--help and
 * -V/--version reach every subcommand (scope INHERIT): the error line points there.
 */
@Command(name = "fovea", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, version = "fovea 0.1.0",
        description = "A deep-learning engine for the JVM: CNNs and Vision Transformers on the Vector API (and CUDA).",
        subcommands = {TrainCommand.class, PretrainCommand.class, FinetuneCommand.class, EvalCommand.class, PredictCommand.class, ExplainCommand.class, CaptionCommand.class, GenerateCommand.class, FilterCommand.class, ScenesCommand.class, CheckCommand.class, InfoCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        // under mpirun, rank 0 alone prints; the others keep standard error for their errors
        if (Distributed.rank() > 0) System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        System.exit(run(args));
    }

    /**
     * Runs the command line and returns the exit code (for tests and embedding): 0 on success, 2 for a user error (a
     * bad option, a file that is missing, unreadable or malformed: one line naming it), 1 for an internal error (a
     * bug: one line saying so; the stack trace only with FOVEA_DEBUG=1), 3 when training's loss stops being finite.
     */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("fovea: error: " + ex.getMessage());
            cmd.getErr().println("(`" + cmd.getCommandSpec().qualifiedName() + " --help` lists the options)");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean debug = "1".equals(System.getenv("FOVEA_DEBUG"));
            if (debug) ex.printStackTrace(cmd.getErr());
            if (isUserError(ex)) {
                cmd.getErr().println("fovea: error: " + describe(ex));
                return 2;
            }
            cmd.getErr().println("fovea: internal error: " + ex + " — this is a bug in Fovea; please report it with the command line"
                    + (debug ? " and the stack trace above" : " and what FOVEA_DEBUG=1 prints (the stack trace)"));
            return 1;
        });
        return cl.execute(args);
    }

    /** Errors caused by what the user asked for or gave us, as opposed to bugs. */
    static boolean isUserError(Throwable ex) {
        return ex instanceof IllegalArgumentException || ex instanceof BackendUnavailableException
                || ex instanceof IOException || ex instanceof UncheckedIOException;
    }

    /** A user error's line: I/O errors with the file and the cause (the JDK's messages give one or the other). */
    static String describe(Throwable ex) {
        if (ex instanceof UncheckedIOException u) ex = u.getCause();
        if (ex instanceof NoSuchFileException e) return e.getMessage().contains(" ") ? e.getMessage() : e.getFile() + ": no such file";
        if (ex instanceof AccessDeniedException e) return e.getFile() + ": permission denied" + (e.getReason() != null ? " (" + e.getReason() + ")" : "");
        if (ex instanceof FileAlreadyExistsException e) return e.getFile() + ": already exists";
        if (ex instanceof NotDirectoryException e) return e.getFile() + ": not a directory";
        if (ex instanceof DirectoryNotEmptyException e) return e.getFile() + ": directory not empty";
        if (ex instanceof FileSystemException e && e.getFile() != null) return e.getFile() + ": " + (e.getReason() != null ? e.getReason() : e.getClass().getSimpleName());
        String m = ex.getMessage();
        return m == null || m.isBlank() ? ex.getClass().getSimpleName() : m;
    }
}
