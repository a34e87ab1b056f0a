package dev.fovea.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Captions for Fashion-MNIST scenes that name each item and where it is — "a sneaker at the top left and a bag at
 * the bottom right" — in three phrasings: items in reading order (by rows of thirds, then columns), the same after
 * "there is", and in reverse order. Where an item is: the third of the canvas its box's centre falls in, across and
 * down.
 */
public final class SceneCaptions {
    private SceneCaptions() {}

    /** Fashion-MNIST's classes as caption words. */
    public static final String[] NAMES = {"t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"};

    public static List<String> captions(Scenes.Scene s) {
        List<Scenes.Item> items = new ArrayList<>(s.items());
        items.sort(Comparator.<Scenes.Item>comparingInt(it -> third(it.box()[1] + it.box()[3] / 2, s.size()))
                .thenComparingDouble(it -> it.box()[0] + it.box()[2] / 2));
        List<String> phrases = new ArrayList<>();
        for (Scenes.Item it : items) phrases.add(phrase(it, s.size()));
        String inOrder = join(phrases);
        List<String> reversed = new ArrayList<>(phrases.reversed());
        List<String> out = new ArrayList<>(List.of(inOrder, "there is " + inOrder));
        if (phrases.size() > 1) out.add(join(reversed));
        return out;
    }

    /** "a sneaker at the top left". */
    static String phrase(Scenes.Item it, int size) {
        String name = NAMES[it.label()];
        String article = "aeiou".indexOf(name.charAt(0)) >= 0 ? "an " : "a ";
        int col = third(it.box()[0] + it.box()[2] / 2, size), row = third(it.box()[1] + it.box()[3] / 2, size);
        String[] rows = {"top", "middle", "bottom"}, cols = {"left", "center", "right"};
        String where = row == 1 && col == 1 ? "in the center"
                : row == 1 ? "on the " + cols[col]
                : col == 1 ? "at the " + rows[row]
                : "at the " + rows[row] + " " + cols[col];
        return article + name + " " + where;
    }

    /** 0, 1 or 2: the third of [0, size) that v falls in. */
    static int third(double v, int size) { return Math.min(2, (int) (3 * v / size)); }

    /** "x", "x and y", "x, y and z". */
    static String join(List<String> parts) {
        if (parts.size() == 1) return parts.getFirst();
        return String.join(", ", parts.subList(0, parts.size() - 1)) + " and " + parts.getLast();
    }
}
