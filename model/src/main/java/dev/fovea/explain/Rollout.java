package dev.fovea.explain;

import java.util.List;

/**
 * Attention rollout (Abnar and Zuidema 2020, "Quantifying Attention Flow in Transformers"): each layer's attention,
 * averaged over heads, plus the identity for the residual connection (Â = ½A + ½I, rows renormalised), multiplied
 * through the layers, R = Â_L ⋯ Â_1: how much each output token draws on each input token.
 */
public final class Rollout {
    private Rollout() {}

    /** layers: each a head-averaged attention matrix [T][T] (rows: queries, summing to one), first layer first. */
    public static double[][] of(List<double[][]> layers) {
        if (layers.isEmpty()) throw new IllegalArgumentException("rollout: no layers");
        int n = layers.getFirst().length;
        double[][] r = identity(n);
        for (double[][] a : layers) {
            if (a.length != n) throw new IllegalArgumentException("rollout: layers of " + n + " and " + a.length + " tokens");
            double[][] hat = new double[n][n];
            for (int i = 0; i < n; i++) {
                double sum = 0;
                for (int j = 0; j < n; j++) sum += hat[i][j] = 0.5 * a[i][j] + (i == j ? 0.5 : 0);
                for (int j = 0; j < n; j++) hat[i][j] /= sum;
            }
            r = multiply(hat, r);
        }
        return r;
    }

    static double[][] identity(int n) {
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) m[i][i] = 1;
        return m;
    }

    static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                for (int j = 0; j < n; j++) c[i][j] += a[i][k] * b[k][j];
        return c;
    }
}
