package dev.fovea.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar with images/s and ETA, redrawn in place on a terminal at most 5 times a second; without a
 * terminal (a log file, CI) a plain line every 10 seconds instead.
 */
final class Progress {
    private final PrintStream out;
    private final boolean tty;
    private long lastDraw;
    private boolean drawn;

    Progress(PrintStream out) {
        this.out = out;
        this.tty = System.console() != null && System.console().isTerminal();
    }

    /** {@code loss} NaN leaves the loss out (work that is not training). */
    void update(String label, int done, int total, long images, double seconds, double loss) {
        long now = System.nanoTime();
        long gap = tty ? 200_000_000L : 10_000_000_000L;
        if (done < total && now - lastDraw < gap) return;
        lastDraw = now;
        double rate = images / Math.max(seconds, 1e-9);
        double eta = done == 0 ? 0 : seconds / done * (total - done);
        int width = 30, fill = (int) ((long) width * done / Math.max(total, 1));
        String bar = "#".repeat(fill) + ".".repeat(width - fill);
        String lossPart = Double.isNaN(loss) ? "" : String.format(Locale.ROOT, "  loss %.4f", loss);
        String line = String.format(Locale.ROOT, "%s [%s] %d/%d%s  %.0f img/s  ETA %s", label, bar, done, total, lossPart, rate, time(eta));
        if (tty) {
            out.print("\r" + line + "   ");
            drawn = true;
            if (done >= total) finish();
        } else if (done < total) {
            out.println(line);
        }
        out.flush();
    }

    /** Ends the bar's line so that the next output starts on its own. */
    void finish() {
        if (tty && drawn) { out.print("\r" + " ".repeat(100) + "\r"); out.flush(); }
        drawn = false;
    }

    static String time(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String.format(Locale.ROOT, "%d:%02d", t / 60, t % 60);
    }
}
