package dev.fovea.reference;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;

/**
 * The control: every op written as plainly as possible, in double precision, on row-major double arrays.
 * Shapes are passed beside the data. Nothing here is fast; everything here should be obviously right.
 */
public final class Ref {
    private Ref() {}

    // ---------------------------------------------------------------- GEMM

    /** c[bt] = alpha·op(a[bt])·op(b[bt]) + beta·c[bt]; a stride of 0 shares that operand across the batch. */
    public static void gemm(int batch, int m, int n, int k, double[] a, boolean ta, long sa, double[] b, boolean tb, long sb,
                            double[] c, double alpha, double beta) {
        for (int bt = 0; bt < batch; bt++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        double av = ta ? a[(int) (bt * sa) + p * m + i] : a[(int) (bt * sa) + i * k + p];
                        double bv = tb ? b[(int) (bt * sb) + j * k + p] : b[(int) (bt * sb) + p * n + j];
                        s += av * bv;
                    }
                    int ci = bt * m * n + i * n + j;
                    c[ci] = alpha * s + (beta == 0 ? 0 : beta * c[ci]);
                }
    }

    // ---------------------------------------------------------------- convolution

    /** y[n,o,oy,ox] = bias[o] + Σ_{ci in group, ky, kx} x[n, g·cg + ci, oy·sh − ph + ky, ox·sw − pw + kx]·w[o, ci, ky, kx]. */
    public static double[] conv2d(double[] x, int[] xs, double[] w, int[] ws, double[] bias, Conv2dSpec s) {
        int[] ys = s.outputShape(xs, ws);
        double[] y = new double[ys[0] * ys[1] * ys[2] * ys[3]];
        int cg = xs[1] / s.groups(), og = ws[0] / s.groups();
        for (int n = 0; n < ys[0]; n++)
            for (int o = 0; o < ys[1]; o++)
                for (int oy = 0; oy < ys[2]; oy++)
                    for (int ox = 0; ox < ys[3]; ox++) {
                        double acc = bias == null ? 0 : bias[o];
                        int g = o / og;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < ws[2]; ky++)
                                for (int kx = 0; kx < ws[3]; kx++) {
                                    int iy = oy * s.strideH() - s.padH() + ky, ix = ox * s.strideW() - s.padW() + kx;
                                    if (iy < 0 || iy >= xs[2] || ix < 0 || ix >= xs[3]) continue;
                                    acc += x[idx(xs, n, g * cg + ci, iy, ix)] * w[idx(ws, o, ci, ky, kx)];
                                }
                        y[idx(ys, n, o, oy, ox)] = acc;
                    }
        return y;
    }

    /** Gradients of Σ dy·conv2d(x, w, b): returns {dx, dw, db}. */
    public static double[][] conv2dBackward(double[] x, int[] xs, double[] w, int[] ws, double[] dy, Conv2dSpec s) {
        int[] ys = s.outputShape(xs, ws);
        double[] dx = new double[x.length], dw = new double[w.length], db = new double[ws[0]];
        int cg = xs[1] / s.groups(), og = ws[0] / s.groups();
        for (int n = 0; n < ys[0]; n++)
            for (int o = 0; o < ys[1]; o++)
                for (int oy = 0; oy < ys[2]; oy++)
                    for (int ox = 0; ox < ys[3]; ox++) {
                        double g = dy[idx(ys, n, o, oy, ox)];
                        db[o] += g;
                        int grp = o / og;
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < ws[2]; ky++)
                                for (int kx = 0; kx < ws[3]; kx++) {
                                    int iy = oy * s.strideH() - s.padH() + ky, ix = ox * s.strideW() - s.padW() + kx;
                                    if (iy < 0 || iy >= xs[2] || ix < 0 || ix >= xs[3]) continue;
                                    int xi = idx(xs, n, grp * cg + ci, iy, ix), wi = idx(ws, o, ci, ky, kx);
                                    dx[xi] += g * w[wi];
                                    dw[wi] += g * x[xi];
                                }
                    }
        return new double[][]{dx, dw, db};
    }

    // ---------------------------------------------------------------- pooling

    public static double[] pool(Pool2dSpec s, double[] x, int[] xs) {
        int[] ys = s.outputShape(xs);
        double[] y = new double[ys[0] * ys[1] * ys[2] * ys[3]];
        for (int p = 0; p < xs[0] * xs[1]; p++)
            for (int oy = 0; oy < ys[2]; oy++)
                for (int ox = 0; ox < ys[3]; ox++) {
                    double acc = s.mode() == Pool2dSpec.Mode.MAX ? Double.NEGATIVE_INFINITY : 0;
                    for (int ky = 0; ky < s.kH(); ky++)
                        for (int kx = 0; kx < s.kW(); kx++) {
                            int iy = oy * s.strideH() - s.padH() + ky, ix = ox * s.strideW() - s.padW() + kx;
                            if (iy < 0 || iy >= xs[2] || ix < 0 || ix >= xs[3]) continue; // padding: ignored by max, 0 for avg
                            double v = x[(p * xs[2] + iy) * xs[3] + ix];
                            acc = s.mode() == Pool2dSpec.Mode.MAX ? Math.max(acc, v) : acc + v;
                        }
                    y[(p * ys[2] + oy) * ys[3] + ox] = s.mode() == Pool2dSpec.Mode.MAX ? acc : acc / (s.kH() * s.kW());
                }
        return y;
    }

    /** Max pooling sends each gradient to the first maximal input of its window; average spreads it evenly. */
    public static double[] poolBackward(Pool2dSpec s, double[] x, int[] xs, double[] dy) {
        int[] ys = s.outputShape(xs);
        double[] dx = new double[x.length];
        for (int p = 0; p < xs[0] * xs[1]; p++)
            for (int oy = 0; oy < ys[2]; oy++)
                for (int ox = 0; ox < ys[3]; ox++) {
                    double g = dy[(p * ys[2] + oy) * ys[3] + ox];
                    int arg = -1;
                    double best = Double.NEGATIVE_INFINITY;
                    for (int ky = 0; ky < s.kH(); ky++)
                        for (int kx = 0; kx < s.kW(); kx++) {
                            int iy = oy * s.strideH() - s.padH() + ky, ix = ox * s.strideW() - s.padW() + kx;
                            if (iy < 0 || iy >= xs[2] || ix < 0 || ix >= xs[3]) continue;
                            int xi = (p * xs[2] + iy) * xs[3] + ix;
                            if (s.mode() == Pool2dSpec.Mode.AVG) dx[xi] += g / (s.kH() * s.kW());
                            else if (arg < 0 || x[xi] > best) { best = x[xi]; arg = xi; }
                        }
                    if (s.mode() == Pool2dSpec.Mode.MAX && arg >= 0) dx[arg] += g;
                }
        return dx;
    }

    // ---------------------------------------------------------------- activations

    public static double act(Activation f, double x) {
        return switch (f) {
            case RELU -> Math.max(x, 0);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
            case GELU -> 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case SCALED_TANH -> 1.7159 * Math.tanh(2.0 / 3.0 * x);
        };
    }

    public static double actGrad(Activation f, double x) {
        return switch (f) {
            case RELU -> x > 0 ? 1 : 0;
            case SIGMOID -> { double s = act(f, x); yield s * (1 - s); }
            case TANH -> { double t = Math.tanh(x); yield 1 - t * t; }
            case GELU -> 0.5 * (1 + erf(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
            case GELU_TANH -> {
                double k = Math.sqrt(2 / Math.PI), t = Math.tanh(k * (x + 0.044715 * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
            }
            case SCALED_TANH -> { double t = Math.tanh(2.0 / 3.0 * x); yield 1.7159 * 2.0 / 3.0 * (1 - t * t); }
        };
    }

    /**
     * erf to double precision: for |x| < 3 the series erf(z) = 2/√π·e^(−z²)·Σ 2ⁿz^(2n+1)/(1·3·…·(2n+1)), whose terms
     * are all positive (no cancellation); beyond, erfc's continued fraction.
     */
    public static double erf(double x) {
        double z = Math.abs(x);
        double r;
        if (z < 3) {
            double term = z, sum = z;
            for (int n = 1; n < 500; n++) {
                term *= 2 * z * z / (2 * n + 1);
                sum += term;
                if (term < 1e-17 * sum) break;
            }
            r = 2 / Math.sqrt(Math.PI) * Math.exp(-z * z) * sum;
        } else {
            double f = 0; // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
            for (int n = 60; n >= 1; n--) f = (n / 2.0) / (z + f);
            r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
        }
        return x < 0 ? -r : r;
    }

    // ---------------------------------------------------------------- softmax family

    /** Softmax of each length-n row; with causal, row r (of t rows per matrix) keeps columns ≤ r mod t. */
    public static double[] softmax(double[] x, int n, int t, boolean causal) {
        double[] y = new double[x.length];
        for (int r = 0; r * n < x.length; r++) {
            int len = causal ? Math.min(n, r % t + 1) : n;
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < len; j++) m = Math.max(m, x[r * n + j]);
            for (int j = 0; j < len; j++) s += Math.exp(x[r * n + j] - m);
            for (int j = 0; j < len; j++) y[r * n + j] = Math.exp(x[r * n + j] - m) / s;
        }
        return y;
    }

    public static double[] softmaxBackward(double[] y, double[] dy, int n) {
        double[] dx = new double[y.length];
        for (int r = 0; r * n < y.length; r++) {
            double dot = 0;
            for (int j = 0; j < n; j++) dot += dy[r * n + j] * y[r * n + j];
            for (int j = 0; j < n; j++) dx[r * n + j] = (dy[r * n + j] - dot) * y[r * n + j];
        }
        return dx;
    }

    /** Mean over rows of −Σ_j target_j·log softmax(logits)_j with target = (1−ε)·onehot + ε/C. */
    public static double crossEntropy(double[] logits, int[] labels, int c, double eps) {
        double total = 0;
        for (int r = 0; r < labels.length; r++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < c; j++) m = Math.max(m, logits[r * c + j]);
            for (int j = 0; j < c; j++) s += Math.exp(logits[r * c + j] - m);
            double logZ = m + Math.log(s);
            for (int j = 0; j < c; j++) {
                double target = (j == labels[r] ? 1 - eps : 0) + eps / c;
                total -= target * (logits[r * c + j] - logZ);
            }
        }
        return total / labels.length;
    }

    public static double[] crossEntropyBackward(double[] logits, int[] labels, int c, double eps, double dloss) {
        double[] p = softmax(logits, c, 1, false), d = new double[logits.length];
        for (int r = 0; r < labels.length; r++)
            for (int j = 0; j < c; j++) {
                double target = (j == labels[r] ? 1 - eps : 0) + eps / c;
                d[r * c + j] = dloss * (p[r * c + j] - target) / labels.length;
            }
        return d;
    }

    // ---------------------------------------------------------------- layer norm

    /** Returns {y, mean, rstd}. */
    public static double[][] layerNorm(double[] x, double[] g, double[] b, int d, double eps) {
        int rows = x.length / d;
        double[] y = new double[x.length], mean = new double[rows], rstd = new double[rows];
        for (int r = 0; r < rows; r++) {
            double mu = 0, var = 0;
            for (int j = 0; j < d; j++) mu += x[r * d + j];
            mu /= d;
            for (int j = 0; j < d; j++) var += (x[r * d + j] - mu) * (x[r * d + j] - mu);
            var /= d;
            double rs = 1 / Math.sqrt(var + eps);
            mean[r] = mu;
            rstd[r] = rs;
            for (int j = 0; j < d; j++) y[r * d + j] = (x[r * d + j] - mu) * rs * g[j] + b[j];
        }
        return new double[][]{y, mean, rstd};
    }

    /** Returns {dx, dgamma, dbeta}, given the forward's per-row mean and rstd. */
    public static double[][] layerNormBackward(double[] x, double[] g, double[] dy, double[] mean, double[] rstd, int d) {
        int rows = x.length / d;
        double[] dx = new double[x.length], dg = new double[d], db = new double[d];
        for (int r = 0; r < rows; r++) {
            double mu = mean[r], rs = rstd[r], sumG = 0, sumGX = 0;
            for (int j = 0; j < d; j++) {
                double xh = (x[r * d + j] - mu) * rs, gh = dy[r * d + j] * g[j];
                sumG += gh;
                sumGX += gh * xh;
                dg[j] += dy[r * d + j] * xh;
                db[j] += dy[r * d + j];
            }
            for (int j = 0; j < d; j++) {
                double xh = (x[r * d + j] - mu) * rs, gh = dy[r * d + j] * g[j];
                dx[r * d + j] = rs * (gh - sumG / d - xh * sumGX / d);
            }
        }
        return new double[][]{dx, dg, db};
    }

    // ---------------------------------------------------------------- attention

    /** Plain attention with the full score matrix: returns {out [BH,T,Dv], lse [BH,T]}. */
    public static double[][] attention(double[] q, double[] k, double[] v, int bh, int t, int s, int d, int dv, double scale, boolean causal) {
        double[] out = new double[bh * t * dv], lse = new double[bh * t];
        for (int h = 0; h < bh; h++)
            for (int i = 0; i < t; i++) {
                int n = causal ? Math.min(s, i + 1) : s;
                double[] sc = new double[n];
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    for (int e = 0; e < d; e++) sc[j] += q[(h * t + i) * d + e] * k[(h * s + j) * d + e];
                    sc[j] *= scale;
                    m = Math.max(m, sc[j]);
                }
                double z = 0;
                for (int j = 0; j < n; j++) z += Math.exp(sc[j] - m);
                for (int j = 0; j < n; j++) {
                    double p = Math.exp(sc[j] - m) / z;
                    for (int e = 0; e < dv; e++) out[(h * t + i) * dv + e] += p * v[(h * s + j) * dv + e];
                }
                lse[h * t + i] = m + Math.log(z);
            }
        return new double[][]{out, lse};
    }

    /** Returns {dq, dk, dv} of Σ dout·attention(q, k, v). */
    public static double[][] attentionBackward(double[] q, double[] k, double[] v, double[] dout, int bh, int t, int s, int d, int dv,
                                               double scale, boolean causal) {
        double[] dq = new double[q.length], dk = new double[k.length], dvv = new double[v.length];
        for (int h = 0; h < bh; h++)
            for (int i = 0; i < t; i++) {
                int n = causal ? Math.min(s, i + 1) : s;
                double[] sc = new double[n], p = new double[n], dp = new double[n];
                double m = Double.NEGATIVE_INFINITY, z = 0, dotPdp = 0;
                for (int j = 0; j < n; j++) {
                    for (int e = 0; e < d; e++) sc[j] += q[(h * t + i) * d + e] * k[(h * s + j) * d + e];
                    sc[j] *= scale;
                    m = Math.max(m, sc[j]);
                }
                for (int j = 0; j < n; j++) z += Math.exp(sc[j] - m);
                for (int j = 0; j < n; j++) {
                    p[j] = Math.exp(sc[j] - m) / z;
                    for (int e = 0; e < dv; e++) {
                        dp[j] += dout[(h * t + i) * dv + e] * v[(h * s + j) * dv + e];
                        dvv[(h * s + j) * dv + e] += p[j] * dout[(h * t + i) * dv + e];
                    }
                    dotPdp += p[j] * dp[j];
                }
                for (int j = 0; j < n; j++) {
                    double ds = p[j] * (dp[j] - dotPdp) * scale;
                    for (int e = 0; e < d; e++) {
                        dq[(h * t + i) * d + e] += ds * k[(h * s + j) * d + e];
                        dk[(h * s + j) * d + e] += ds * q[(h * t + i) * d + e];
                    }
                }
            }
        return new double[][]{dq, dk, dvv};
    }

    // ---------------------------------------------------------------- helpers

    public static int idx(int[] s, int a, int b, int c, int d) {
        return ((a * s[1] + b) * s[2] + c) * s[3] + d;
    }
}
