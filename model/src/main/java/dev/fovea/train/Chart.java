package dev.fovea.train;

import dev.fovea.train.EpochMetrics;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/** Draws training curves as a PNG: loss (train, test) on the left, accuracy (train, test) on the right. */
final class Chart {
    private static final int W = 960, H = 400, PAD = 50;
    private static final Color TRAIN = new Color(0x1f77b4), TEST = new Color(0xd62728);

    private Chart() {}

    static void write(Path png, List<EpochMetrics> history, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, PAD, 22);
        panel(g, 0, "loss", history, EpochMetrics::trainLoss, EpochMetrics::testLoss, false);
        panel(g, W / 2, "accuracy", history, EpochMetrics::trainAccuracy, EpochMetrics::testAccuracy, true);
        g.dispose();
        Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
        ImageIO.write(img, "png", tmp.toFile());
        Files.move(tmp, png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void panel(Graphics2D g, int x0, String name, List<EpochMetrics> h,
                              ToDoubleFunction<EpochMetrics> train, ToDoubleFunction<EpochMetrics> test, boolean unit) {
        int left = x0 + PAD, right = x0 + W / 2 - 20, top = 40, bottom = H - PAD;
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (EpochMetrics m : h) for (double v : new double[]{train.applyAsDouble(m), test.applyAsDouble(m)})
            if (Double.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        if (!(lo <= hi)) { lo = 0; hi = 1; }
        if (unit) { lo = Math.max(0, Math.floor(lo * 20) / 20); hi = Math.min(1, Math.ceil(hi * 20) / 20); }
        if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
        g.setColor(Color.LIGHT_GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int i = 0; i <= 4; i++) {
            int y = bottom - (bottom - top) * i / 4;
            g.drawLine(left, y, right, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.3f", lo + (hi - lo) * i / 4), x0 + 5, y + 4);
            g.setColor(Color.LIGHT_GRAY);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, right - left, bottom - top);
        g.drawString(name + " per epoch", left + 5, top - 5);
        int n = h.size();
        for (int i = 0; i < n; i++) {
            int x = n == 1 ? (left + right) / 2 : left + (right - left) * i / (n - 1);
            g.drawString(Integer.toString(h.get(i).epoch()), x - 3, bottom + 15);
        }
        series(g, h, train, TRAIN, left, right, top, bottom, lo, hi);
        series(g, h, test, TEST, left, right, top, bottom, lo, hi);
        g.setColor(TRAIN);
        g.drawString("train", right - 90, bottom + 32);
        g.setColor(TEST);
        g.drawString("test", right - 40, bottom + 32);
    }

    private static void series(Graphics2D g, List<EpochMetrics> h, ToDoubleFunction<EpochMetrics> f, Color c,
                               int left, int right, int top, int bottom, double lo, double hi) {
        g.setColor(c);
        g.setStroke(new BasicStroke(2f));
        int n = h.size(), px = -1, py = -1;
        for (int i = 0; i < n; i++) {
            double v = f.applyAsDouble(h.get(i));
            if (!Double.isFinite(v)) continue;
            int x = n == 1 ? (left + right) / 2 : left + (right - left) * i / (n - 1);
            int y = (int) Math.round(bottom - (bottom - top) * (v - lo) / (hi - lo));
            g.fillOval(x - 3, y - 3, 6, 6);
            if (px >= 0) g.drawLine(px, py, x, y);
            px = x;
            py = y;
        }
        g.setStroke(new BasicStroke(1f));
    }
}
