package dev.fovea.cli;

import dev.fovea.tasks.DenseGrid;
import dev.fovea.tasks.SceneTask;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * A scene task's answer drawn on its image, enlarged for a person to look at: label maps as a translucent colour per
 * class with a legend, instance masks in one colour per object, boxes with their class and score.
 */
final class SceneDrawing {
    private SceneDrawing() {}

    /** Ten well-separated colours (Tableau's), cycled for more classes or instances. */
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728),
            new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

    static Color colour(int i) { return PALETTE[Math.floorMod(i, PALETTE.length)]; }

    /**
     * pixels [C, S, S] in 0..255 (C = 1 or 3); detections below {@code minScore} are left out. {@code zoom} enlarges
     * each pixel into a zoom×zoom square.
     */
    static BufferedImage draw(float[] pixels, int channels, int size, SceneTask.Prediction p, String[] names, double minScore, int zoom) {
        int big = size * zoom;
        BufferedImage out = new BufferedImage(big, big, BufferedImage.TYPE_INT_RGB);
        int[] labels = p.labels();
        int[] instance = new int[size * size];
        java.util.Arrays.fill(instance, -1);
        int k = 0;
        for (DenseGrid.Detection d : p.detections()) {
            if (d.score() < minScore) continue;
            if (d.mask() != null)
                for (int q = 0; q < instance.length; q++) if (d.mask()[q] != 0 && instance[q] < 0) instance[q] = k;
            k++;
        }
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                int q = y * size + x;
                int r = clamp(pixels[q]), g = channels == 3 ? clamp(pixels[size * size + q]) : r, b = channels == 3 ? clamp(pixels[2 * size * size + q]) : r;
                Color tint = instance[q] >= 0 ? colour(instance[q]) : labels != null && labels[q] > 0 && !hasMasks(p) ? colour(labels[q] - 1) : null;
                if (tint != null) {
                    r = (r + tint.getRed()) / 2;
                    g = (g + tint.getGreen()) / 2;
                    b = (b + tint.getBlue()) / 2;
                }
                int rgb = r << 16 | g << 8 | b;
                for (int dy = 0; dy < zoom; dy++)
                    for (int dx = 0; dx < zoom; dx++) out.setRGB(x * zoom + dx, y * zoom + dy, rgb);
            }
        Graphics2D gr = out.createGraphics();
        gr.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        gr.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(10, 3 * zoom)));
        FontMetrics fm = gr.getFontMetrics();
        k = 0;
        for (DenseGrid.Detection d : p.detections()) {
            if (d.score() < minScore) continue;
            Color c = d.mask() != null ? colour(k) : colour(d.cls());
            k++;
            int x0 = (int) Math.round(d.box()[0] * zoom), y0 = (int) Math.round(d.box()[1] * zoom);
            int w = (int) Math.round(d.box()[2] * zoom), h = (int) Math.round(d.box()[3] * zoom);
            gr.setColor(c);
            gr.setStroke(new BasicStroke(2f));
            gr.drawRect(x0, y0, w, h);
            String text = String.format(Locale.ROOT, "%s %.2f", names[d.cls()], d.score());
            int tw = fm.stringWidth(text) + 4, th = fm.getHeight();
            int ty = y0 - th >= 0 ? y0 - th : y0;
            gr.fillRect(x0, ty, tw, th);
            gr.setColor(Color.WHITE);
            gr.drawString(text, x0 + 2, ty + fm.getAscent());
        }
        if (labels != null && !hasMasks(p)) {                     // the legend: the classes the map uses
            Set<Integer> used = new TreeSet<>();
            for (int l : labels) if (l > 0) used.add(l);
            int y = 2;
            for (int l : used) {
                String text = names[l - 1];
                gr.setColor(colour(l - 1));
                gr.fillRect(2, y, fm.stringWidth(text) + 4, fm.getHeight());
                gr.setColor(Color.WHITE);
                gr.drawString(text, 4, y + fm.getAscent());
                y += fm.getHeight() + 2;
            }
        }
        gr.dispose();
        return out;
    }

    private static boolean hasMasks(SceneTask.Prediction p) {
        for (DenseGrid.Detection d : p.detections()) if (d.mask() != null) return true;
        return false;
    }

    private static int clamp(float v) { return Math.max(0, Math.min(255, Math.round(v))); }
}
