package dev.fovea.train;

import java.util.Locale;

/** Loss, accuracy and the confusion matrix (rows: true class, columns: predicted) of a model on a data set. */
public record Evaluation(double loss, double accuracy, long[][] confusion) {
    public String confusionTable(String[] names) {
        int c = confusion.length;
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-14s", "true\\pred"));
        for (int j = 0; j < c; j++) sb.append(String.format(Locale.ROOT, "%6d", j));
        sb.append("  recall\n");
        for (int i = 0; i < c; i++) {
            String n = names != null && i < names.length ? i + " " + names[i] : Integer.toString(i);
            sb.append(String.format(Locale.ROOT, "%-14s", n.length() > 14 ? n.substring(0, 14) : n));
            long row = 0;
            for (int j = 0; j < c; j++) { sb.append(String.format(Locale.ROOT, "%6d", confusion[i][j])); row += confusion[i][j]; }
            sb.append(String.format(Locale.ROOT, "  %.3f\n", row == 0 ? 0.0 : (double) confusion[i][i] / row));
        }
        return sb.toString();
    }
}
