package dev.fovea.explain;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * A picture of labelled rows of tiles, on white: the layout every explanation is drawn in. Tiles are made by the
 * static helpers: a map scaled to grey, signed weights in blue and red, a heat map over an image.
 */
final class Sheet {
    record Tile(BufferedImage image, String caption) {}

    private record Row(String label, List<Tile> tiles) {}

    private static final int PAD = 6, LABEL = 16, CAPTION = 14;
    private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 15), TEXT = new Font(Font.SANS_SERIF, Font.PLAIN, 11);

    private final String title;
    private final List<Row> rows = new ArrayList<>();

    Sheet(String title) { this.title = title; }

    Sheet row(String label, List<Tile> tiles) {
        rows.add(new Row(label, tiles));
        return this;
    }

    BufferedImage render() {
        Graphics2D probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        int width = 2 * PAD + probe.getFontMetrics(TITLE).stringWidth(title), height = PAD + 22;
        for (Row r : rows) {
            width = Math.max(width, 2 * PAD + probe.getFontMetrics(TEXT).stringWidth(r.label));
            int w = PAD, h = 0;
            for (Tile t : r.tiles) {
                w += t.image.getWidth() + PAD;
                h = Math.max(h, t.image.getHeight());
            }
            width = Math.max(width, w);
            height += LABEL + h + CAPTION + PAD;
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(TITLE);
        g.drawString(title, PAD, PAD + 15);
        int y = PAD + 22;
        for (Row r : rows) {
            g.setFont(TEXT);
            g.setColor(Color.BLACK);
            g.drawString(r.label, PAD, y + 12);
            y += LABEL;
            int x = PAD, h = 0;
            FontMetrics fm = g.getFontMetrics();
            for (Tile t : r.tiles) {
                g.drawImage(t.image, x, y, null);
                if (t.caption != null) {
                    String c = t.caption;
                    while (c.length() > 1 && fm.stringWidth(c) > t.image.getWidth() + PAD) c = c.substring(0, c.length() - 1);
                    g.setColor(Color.DARK_GRAY);
                    g.drawString(c, x, y + t.image.getHeight() + 11);
                }
                x += t.image.getWidth() + PAD;
                h = Math.max(h, t.image.getHeight());
            }
            y += h + CAPTION + PAD;
        }
        g.dispose();
        return out;
    }

    /** A map [h, w] at {@code off}, scaled from its own minimum (black) to maximum (white), each value a zoom×zoom square. */
    static BufferedImage grey(float[] v, int off, int h, int w, int zoom) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < h * w; i++) { lo = Math.min(lo, v[off + i]); hi = Math.max(hi, v[off + i]); }
        BufferedImage out = new BufferedImage(w * zoom, h * zoom, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int c = hi > lo ? Math.round(255 * (v[off + y * w + x] - lo) / (hi - lo)) : 128;
                fill(out, x * zoom, y * zoom, zoom, c << 16 | c << 8 | c);
            }
        return out;
    }

    /** Signed weights [h, w]: zero white, positive red, negative blue, scaled by the largest magnitude among them. */
    static BufferedImage signed(float[] v, int off, int h, int w, int zoom) {
        float m = 1e-12f;
        for (int i = 0; i < h * w; i++) m = Math.max(m, Math.abs(v[off + i]));
        BufferedImage out = new BufferedImage(w * zoom, h * zoom, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float a = v[off + y * w + x] / m;
                int fade = Math.round(255 * (1 - Math.abs(a)));
                int rgb = a >= 0 ? 255 << 16 | fade << 8 | fade : fade << 16 | fade << 8 | 255;
                fill(out, x * zoom, y * zoom, zoom, rgb);
            }
        return out;
    }

    /**
     * A map [g, g] over an image: each cell's value (scaled from the map's minimum to its maximum) as the "hot" colours
     * (black, red, yellow, white) blended half and half with the image, both drawn size × size.
     */
    static BufferedImage heat(double[] v, int g, BufferedImage base, int size) {
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double d : v) { lo = Math.min(lo, d); hi = Math.max(hi, d); }
        double range = Math.max(hi - lo, 1e-12);
        BufferedImage under = scaled(base, size);
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                double a = (v[(y * g / size) * g + x * g / size] - lo) / range;
                int r = (int) Math.min(255, 3 * 255 * a), gr = (int) Math.min(255, Math.max(0, 3 * 255 * a - 255)), b = (int) Math.min(255, Math.max(0, 3 * 255 * a - 510));
                int u = under.getRGB(x, y);
                out.setRGB(x, y, ((r + (u >> 16 & 0xff)) / 2) << 16 | ((gr + (u >> 8 & 0xff)) / 2) << 8 | (b + (u & 0xff)) / 2);
            }
        return out;
    }

    /** The image enlarged (or shrunk) to size × size, each pixel a block. */
    static BufferedImage scaled(BufferedImage img, int size) {
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) out.setRGB(x, y, img.getRGB(x * img.getWidth() / size, y * img.getHeight() / size));
        return out;
    }

    /** The model's 8-bit input [C, S, S] as an image (grey or RGB). */
    static BufferedImage input(byte[] px, int channels, int s) {
        BufferedImage out = new BufferedImage(s, s, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                int i = y * s + x, r = px[i] & 0xff, g = channels == 3 ? px[s * s + i] & 0xff : r, b = channels == 3 ? px[2 * s * s + i] & 0xff : r;
                out.setRGB(x, y, r << 16 | g << 8 | b);
            }
        return out;
    }

    /** A boolean table [rows][cols] as filled and empty squares (a connection table). */
    static BufferedImage table(boolean[][] t, int cell) {
        int rows = t.length, cols = t[0].length;
        BufferedImage out = new BufferedImage(cols * cell + 1, rows * cell + 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                g.setColor(t[r][c] ? new Color(0x1f77b4) : Color.WHITE);
                g.fillRect(c * cell, r * cell, cell, cell);
                g.setColor(Color.LIGHT_GRAY);
                g.drawRect(c * cell, r * cell, cell, cell);
            }
        g.dispose();
        return out;
    }

    private static void fill(BufferedImage img, int x0, int y0, int zoom, int rgb) {
        for (int dy = 0; dy < zoom; dy++) for (int dx = 0; dx < zoom; dx++) img.setRGB(x0 + dx, y0 + dy, rgb);
    }
}
