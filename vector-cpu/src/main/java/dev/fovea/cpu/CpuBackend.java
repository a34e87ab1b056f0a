package dev.fovea.cpu;

import dev.fovea.backend.Activation;
import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.HeapBackend;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.backend.Precision;
import dev.fovea.tensor.Tensor;

import java.util.Arrays;

/**
 * The CPU backend: every op on Java float arrays with the JDK Vector API, parallel over a fixed pool of threads.
 * Kernels live in package-private classes by family (Gemm, Conv, Pooling, Pointwise, RowOps, Attention, Layout).
 */
public final class CpuBackend extends HeapBackend {
    /** Elements per task below which element-wise work stays on one thread. */
    private static final int GRAIN = 1 << 15;

    private final Parallel par;

    public CpuBackend(BackendOptions options) {
        if (options.precision() != Precision.FP32)
            throw new IllegalArgumentException("cpu backend computes in float32 only; precision " + options.precision() + " is for the cuda backend");
        this.par = new Parallel(options.resolvedThreads());
    }

    public CpuBackend() { this(BackendOptions.defaults()); }

    public int threads() { return par.threads(); }

    @Override public String name() { return "cpu"; }

    @Override public String describe() {
        return "cpu: JDK Vector API, " + Gemm.S + " (" + Gemm.VL + " floats), " + par.threads() + " thread(s), float32\n"
                + "  gemm: packed panels, " + Gemm.MR + "x" + Gemm.NR + " register tile, KC=" + Gemm.KC + " NC=" + Gemm.NC + "; epilogue (bias, residual) written into each tile before its product\n"
                + "  conv2d: direct for few channels at stride 1 (5-wide filter gradients with vectors along the output channels), one gemm when the kernel covers the image, else im2col + gemm (1x1/stride 1: gemm on the input); pooling: direct loops\n"
                + "  attention: fused (a packed qkv projection read in place); register-blocked kernels up to " + Attention.ROWS_MAX_S + " keys (forward: " + Attention.MEDIUM_MAX_S + "), longer sequences in blocks of " + Attention.BQ + " queries through the GEMM (scores never materialised whole); softmax/layernorm/xent: per-row vector kernels";
    }

    @Override public void close() { par.close(); }

    /** Runs body over [0, n) element ranges in parallel when n is large enough to pay for it. */
    private void elements(int n, Parallel.Range body) { par.forRange(n, GRAIN, body); }

    // ---------------------------------------------------------------- GEMM

    @Override protected void gemmEpilogueImpl(int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB, Tensor c,
                                              float alpha, float beta, dev.fovea.backend.Epilogue e) {
        Epilogue ep = new Epilogue(e.bias() == null ? null : data(e.bias()), 0, e.residual() == null ? null : data(e.residual()), 0, n);
        Gemm.sgemm(par, transA, transB, m, n, k, alpha, data(a), 0, transA ? m : k, data(b), 0, transB ? k : n, beta, data(c), 0, n, ep);
    }

    @Override protected void gemmImpl(int batch, int m, int n, int k, Tensor a, boolean transA, long strideA,
                                      Tensor b, boolean transB, long strideB, Tensor c, float alpha, float beta) {
        float[] av = data(a), bv = data(b), cv = data(c);
        int lda = transA ? m : k, ldb = transB ? k : n;
        if (batch >= par.threads() && batch > 1) {
            par.forChunks(batch, par.threads(), (b0, b1) -> {
                for (int i = b0; i < b1; i++)
                    Gemm.sgemm(Parallel.SEQUENTIAL, transA, transB, m, n, k, alpha, av, (int) (i * strideA), lda, bv, (int) (i * strideB), ldb,
                            beta, cv, i * m * n, n);
            });
        } else {
            for (int i = 0; i < batch; i++)
                Gemm.sgemm(par, transA, transB, m, n, k, alpha, av, (int) (i * strideA), lda, bv, (int) (i * strideB), ldb,
                        beta, cv, i * m * n, n);
        }
    }

    // ---------------------------------------------------------------- convolution

    /** Runs per-image work: images split across threads (each with its own column buffer) or one image at a time with a parallel GEMM. */
    private interface ImageWork { void run(Parallel gemmPar, int n0, int n1, float[] col); }

    private void perImage(Conv.Geo g, ImageWork work) {
        int colSize = g.inputIsColumns() ? 0 : g.colRows() * g.spatial();
        if (g.n() >= par.threads() && par.threads() > 1) {
            par.forChunks(g.n(), par.threads(), (n0, n1) -> work.run(Parallel.SEQUENTIAL, n0, n1, new float[colSize]));
        } else {
            work.run(par, 0, g.n(), new float[colSize]);
        }
    }

    @Override protected void conv2dForwardImpl(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s) {
        Conv.Geo g = Conv.Geo.of(x.shape(), w.shape(), y.shape(), s);
        float[] xv = data(x), wv = data(w), bv = bias == null ? null : data(bias), yv = data(y);
        if (wholeImage(g)) {
            // y [N, O] = x [N, C·K·K] · w [O, C·K·K]ᵀ + bias
            int k = g.colRows();
            Gemm.sgemm(par, false, true, g.n(), g.o(), k, 1f, xv, 0, k, wv, 0, k, 0f, yv, 0, g.o());
            if (bv != null) for (int n = 0; n < g.n(); n++) Pointwise.axpy(1f, bv, 0, yv, n * g.o(), g.o());
            return;
        }
        if (DirectConv.applies(g)) { directForward(g, xv, wv, bv, yv); return; }
        perImage(g, (gp, n0, n1, col) -> Conv.forward(gp, xv, wv, bv, yv, g, n0, n1, col));
    }

    @Override protected void conv2dBackwardDataImpl(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s) {
        Conv.Geo g = Conv.Geo.of(dx.shape(), w.shape(), dy.shape(), s);
        float[] dyv = data(dy), wv = data(w), dxv = data(dx);
        if (wholeImage(g)) {
            // dx [N, C·K·K] = dy [N, O] · w [O, C·K·K]
            int k = g.colRows();
            Gemm.sgemm(par, false, false, g.n(), k, g.o(), 1f, dyv, 0, g.o(), wv, 0, k, 0f, dxv, 0, k);
            return;
        }
        if (DirectConv.applies(g)) { directBackwardData(g, dyv, wv, dxv); return; }
        perImage(g, (gp, n0, n1, col) -> Conv.backwardData(gp, dyv, wv, dxv, g, n0, n1, col));
    }

    @Override protected void conv2dBackwardFilterImpl(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s) {
        Conv.Geo g = Conv.Geo.of(x.shape(), dw.shape(), dy.shape(), s);
        float[] xv = data(x), dyv = data(dy), dwv = data(dw);
        if (wholeImage(g)) {
            // dw [O, C·K·K] = dy [N, O]ᵀ · x [N, C·K·K]
            int k = g.colRows();
            Gemm.sgemm(par, true, false, g.o(), k, g.n(), 1f, dyv, 0, g.o(), xv, 0, k, 0f, dwv, 0, k);
            return;
        }
        int colSize = g.inputIsColumns() ? 0 : g.colRows() * g.spatial();
        boolean channels = DirectConv.appliesChannels(g), directConv = !channels && DirectConv.applies(g);
        if (g.n() >= par.threads() && par.threads() > 1) {
            // each thread sums its images into a private buffer; the buffers are added in chunk order at the end
            int t = par.threads();
            float[][] partial = new float[g.n()][];     // indexed by each chunk's first image: unique, ordered
            par.forChunks(g.n(), t, (n0, n1) -> {
                float[] acc = new float[dwv.length];
                if (channels) DirectConv.backwardFilterChannels(xv, dyv, g, n0, n1, acc);
                else if (directConv) DirectConv.reduceLanes(directBackwardFilter(g, xv, dyv, n0, n1), acc);
                else Conv.backwardFilter(Parallel.SEQUENTIAL, xv, dyv, acc, g, n0, n1, new float[colSize]);
                partial[n0] = acc;
            });
            Arrays.fill(dwv, 0f);
            for (float[] p : partial) if (p != null) Pointwise.axpy(1f, p, 0, dwv, 0, dwv.length);
        } else if (channels) {
            Arrays.fill(dwv, 0f);
            DirectConv.backwardFilterChannels(xv, dyv, g, 0, g.n(), dwv);
        } else if (directConv) {
            DirectConv.reduceLanes(directBackwardFilter(g, xv, dyv, 0, g.n()), dwv);
        } else {
            Arrays.fill(dwv, 0f);
            Conv.backwardFilter(par, xv, dyv, dwv, g, 0, g.n(), new float[colSize]);
        }
    }

    /**
     * A kernel that covers the whole unpadded image in one group (LeNet-5's C5: 5×5 over 5×5 maps) has a 1×1
     * output: the convolution is one matrix product over the batch, as a linear layer is.
     */
    private static boolean wholeImage(Conv.Geo g) {
        return g.g() == 1 && g.oh() == 1 && g.ow() == 1 && g.kh() == g.h() && g.kw() == g.w() && g.s().padH() == 0 && g.s().padW() == 0;
    }

    // Direct convolution: images split across threads, one padded-input buffer per thread, weights packed once.

    private DirectConv.Plan forwardPlan(Conv.Geo g) {
        return new DirectConv.Plan(g.cg(), g.h() + 2 * g.s().padH(), g.w() + 2 * g.s().padW(), g.og(), g.oh(), g.ow(), g.kh(), g.kw());
    }

    private void directForward(Conv.Geo g, float[] x, float[] w, float[] bias, float[] y) {
        if (DirectConv.appliesChannels(g)) {
            float[] wT = new float[w.length];
            DirectConv.packChannelsLast(w, g, wT);
            par.forChunks(g.n(), Math.min(g.n(), par.threads()), (n0, n1) -> DirectConv.forwardChannels(x, g, wT, bias, y, n0, n1));
            return;
        }
        DirectConv.Plan p = forwardPlan(g);
        int kk = g.kh() * g.kw();
        float[][] packed = new float[g.g()][p.packedSize()];
        for (int gi = 0; gi < g.g(); gi++) DirectConv.pack(w, gi * g.og() * g.cg() * kk, p, false, g.cg() * kk, kk, packed[gi]);
        int xs = g.c() * g.h() * g.w(), ys = g.o() * g.spatial();
        par.forChunks(g.n(), Math.min(g.n(), par.threads()), (n0, n1) -> {
            float[] xp = new float[p.bufSize()], flat = new float[DirectConv.flatSize(p)];
            for (int n = n0; n < n1; n++)
                for (int gi = 0; gi < g.g(); gi++) {
                    DirectConv.pad(x, n * xs + gi * g.cg() * g.h() * g.w(), g.cg(), g.h(), g.w(), g.s().padH(), g.s().padW(), p, xp, 0);
                    DirectConv.forward(xp, p, packed[gi], bias, gi * g.og(), y, n * ys + gi * g.og() * g.spatial(), flat);
                }
        });
    }

    /**
     * dx by columns (DirectConv.backwardDataCols) where that does less work, else as the full correlation of dy
     * (padded by k−1−pad) with the 180°-rotated, channel-transposed weights.
     */
    private void directBackwardData(Conv.Geo g, float[] dy, float[] w, float[] dx) {
        int qh = g.kh() - 1 - g.s().padH(), qw = g.kw() - 1 - g.s().padW(), kk = g.kh() * g.kw();
        DirectConv.Plan p = new DirectConv.Plan(g.og(), g.oh() + 2 * qh, g.ow() + 2 * qw, g.cg(), g.h(), g.w(), g.kh(), g.kw());
        DirectConv.Cols q = DirectConv.Cols.of(g);
        float[][] wc = new float[g.g()][q.packedSize()];
        int[][][] live = new int[g.g()][g.cg()][];
        int blocks = 0;
        for (int gi = 0; gi < g.g(); gi++) blocks += DirectConv.packCols(w, gi * g.og() * g.cg() * kk, q, wc[gi], live[gi]);
        if (DirectConv.colsPay(p, q, blocks / g.g())) { directBackwardDataCols(g, q, dy, wc, live, dx); return; }
        float[][] packed = new float[g.g()][p.packedSize()];
        for (int gi = 0; gi < g.g(); gi++) DirectConv.pack(w, gi * g.og() * g.cg() * kk, p, true, kk, g.cg() * kk, packed[gi]);
        int xs = g.c() * g.h() * g.w(), ys = g.o() * g.spatial();
        par.forChunks(g.n(), Math.min(g.n(), par.threads()), (n0, n1) -> {
            float[] buf = new float[p.bufSize()], flat = new float[DirectConv.flatSize(p)];
            for (int n = n0; n < n1; n++)
                for (int gi = 0; gi < g.g(); gi++) {
                    DirectConv.pad(dy, n * ys + gi * g.og() * g.spatial(), g.og(), g.oh(), g.ow(), qh, qw, p, buf, 0);
                    DirectConv.forward(buf, p, packed[gi], null, 0, dx, n * xs + gi * g.cg() * g.h() * g.w(), flat);
                }
        });
    }

    private void directBackwardDataCols(Conv.Geo g, DirectConv.Cols q, float[] dy, float[][] wc, int[][][] live, float[] dx) {
        int xs = g.c() * g.h() * g.w(), ys = g.o() * g.spatial();
        long[] lanes = DirectConv.columnLanes(q);
        par.forChunks(g.n(), Math.min(g.n(), par.threads()), (n0, n1) -> {
            float[] dyb = new float[q.dySize()], cols = new float[q.colsSize()], dxp = new float[q.dxpSize()];
            for (int n = n0; n < n1; n++)
                for (int gi = 0; gi < g.g(); gi++) {
                    DirectConv.copyDy(dy, n * ys + gi * g.og() * g.spatial(), q, dyb);
                    DirectConv.backwardDataCols(dyb, q, wc[gi], live[gi], lanes, cols, dxp, dx, n * xs + gi * g.cg() * g.h() * g.w());
                }
        });
    }

    /** Σ over images [n0, n1) of the filter gradient, as per-lane partial sums (see DirectConv.backwardFilter). */
    private float[] directBackwardFilter(Conv.Geo g, float[] x, float[] dy, int n0, int n1) {
        float[] dwl = new float[g.o() * g.cg() * g.kh() * g.kw() * DirectConv.VL];
        // input and dy rows share one stride of whole vectors (see DirectConv.backwardFilter)
        int rs = DirectConv.rowStride(g.w() + 2 * g.s().padW());
        DirectConv.Plan p = new DirectConv.Plan(g.cg(), g.h() + 2 * g.s().padH(), rs, g.og(), g.oh(), g.ow(), g.kh(), g.kw());
        int ib = DirectConv.IMAGE_BLOCK, xImage = p.bufSize(), dyImage = g.og() * g.oh() * rs;
        float[] xp = new float[ib * xImage], dyp = new float[ib * dyImage];
        int xs = g.c() * g.h() * g.w(), ys = g.o() * g.spatial(), wsO = g.cg() * g.kh() * g.kw();
        for (int b0 = n0; b0 < n1; b0 += ib)
            for (int gi = 0; gi < g.g(); gi++) {
                int cnt = Math.min(ib, n1 - b0);
                for (int i = 0; i < cnt; i++) {
                    int n = b0 + i;
                    DirectConv.pad(x, n * xs + gi * g.cg() * g.h() * g.w(), g.cg(), g.h(), g.w(), g.s().padH(), g.s().padW(), p, xp, i * xImage);
                    DirectConv.padRows(dy, n * ys + gi * g.og() * g.spatial(), g.og(), g.oh(), g.ow(), rs, dyp, i * dyImage);
                }
                DirectConv.backwardFilter(xp, xImage, dyp, dyImage, cnt, p, dwl, gi * g.og() * wsO, wsO);
            }
        return dwl;
    }

    @Override protected void conv2dBackwardBiasImpl(Tensor dy, Tensor db) {
        float[] dyv = data(dy), dbv = data(db);
        int n = dy.dim(0), o = dy.dim(1), sp = dy.dim(2) * dy.dim(3);
        par.forRange(o, 1, (c0, c1) -> {
            for (int c = c0; c < c1; c++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += Pointwise.sum(dyv, (i * o + c) * sp, (i * o + c + 1) * sp);
                dbv[c] = (float) s;
            }
        });
    }

    // ---------------------------------------------------------------- pooling

    @Override protected void pool2dForwardImpl(Pool2dSpec s, Tensor x, Tensor y) {
        float[] xv = data(x), yv = data(y);
        int h = x.dim(2), w = x.dim(3), oh = y.dim(2), ow = y.dim(3);
        par.forRange(x.dim(0) * x.dim(1), Math.max(1, GRAIN / Math.max(1, h * w)),
                (p0, p1) -> Pooling.forward(s, xv, h, w, yv, oh, ow, p0, p1));
    }

    @Override protected void pool2dBackwardImpl(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        float[] xv = data(x), dyv = data(dy), dxv = data(dx);
        int h = x.dim(2), w = x.dim(3), oh = y.dim(2), ow = y.dim(3);
        par.forRange(x.dim(0) * x.dim(1), Math.max(1, GRAIN / Math.max(1, h * w)),
                (p0, p1) -> Pooling.backward(s, xv, h, w, dyv, oh, ow, dxv, p0, p1));
    }

    // ---------------------------------------------------------------- activations

    @Override protected void activationForwardImpl(Activation f, Tensor x, Tensor y) {
        float[] xv = data(x), yv = data(y);
        elements(x.numel(), (i0, i1) -> Pointwise.forward(f, xv, yv, i0, i1));
    }

    @Override protected void activationBackwardImpl(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        float[] xv = data(x), yv = data(y), dyv = data(dy), dxv = data(dx);
        elements(x.numel(), (i0, i1) -> Pointwise.backward(f, xv, yv, dyv, dxv, i0, i1));
    }

    // ---------------------------------------------------------------- softmax, cross-entropy

    private void rows(int rows, int len, Parallel.Range body) {
        par.forRange(rows, Math.max(1, GRAIN / Math.max(1, len)), body);
    }

    @Override protected void softmaxForwardImpl(Tensor x, Tensor y, boolean causal) {
        float[] xv = data(x), yv = data(y);
        int n = x.dim(-1), t = causal ? x.dim(-2) : 1;
        rows(x.numel() / Math.max(1, n), n, (r0, r1) -> RowOps.softmax(xv, yv, n, t, causal, r0, r1));
    }

    @Override protected void softmaxBackwardImpl(Tensor y, Tensor dy, Tensor dx) {
        float[] yv = data(y), dyv = data(dy), dxv = data(dx);
        int n = y.dim(-1);
        rows(y.numel() / Math.max(1, n), n, (r0, r1) -> RowOps.softmaxBackward(yv, dyv, dxv, n, r0, r1));
    }

    @Override protected void crossEntropyForwardImpl(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing) {
        int n = logits.dim(0), c = logits.dim(1);
        float[] lg = data(logits), lb = data(labels), pr = data(probs);
        // per-chunk sums in double, added in chunk order: the same loss whatever the timing (a classifier's
        // batch is one chunk; per-pixel losses have hundreds of thousands of rows)
        int t = Math.min(par.threads(), Math.max(1, n * c / GRAIN));
        double[] part = new double[t];
        par.forChunks(n, t, (r0, r1) -> part[(int) ((long) r0 * t / n)] = RowOps.crossEntropy(lg, lb, pr, c, smoothing, r0, r1));
        double total = 0;
        for (double v : part) total += v;
        data(loss)[0] = n == 0 ? 0f : (float) (total / n);
    }

    @Override protected void crossEntropyBackwardImpl(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing) {
        int n = probs.dim(0), c = probs.dim(1);
        float scale = n == 0 ? 0f : data(dloss)[0] / n;
        float[] pv = data(probs), lv = data(labels), dv = data(dlogits);
        rows(n, c, (r0, r1) -> RowOps.crossEntropyBackward(pv, lv, scale, dv, c, smoothing, r0, r1));
    }

    // ---------------------------------------------------------------- layer norm

    @Override protected void layerNormForwardImpl(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, int d) {
        float[] xv = data(x), gv = data(gamma), bv = data(beta), yv = data(y), mv = data(mean), rv = data(rstd);
        rows(mean.numel(), d, (r0, r1) -> RowOps.layerNorm(xv, gv, bv, eps, yv, mv, rv, d, r0, r1));
    }

    @Override protected void layerNormBackwardImpl(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                                   Tensor dx, Tensor dgamma, Tensor dbeta, int d) {
        float[] dyv = data(dy), xv = data(x), gv = data(gamma), mv = data(mean), rv = data(rstd), dxv = data(dx);
        float[] dg = data(dgamma), db = data(dbeta);
        int rows = mean.numel();
        int t = Math.min(par.threads(), Math.max(1, rows * d / GRAIN));
        float[][] pg = new float[t][d], pb = new float[t][d];
        par.forChunks(rows, t, (r0, r1) -> {
            int slot = (int) ((long) r0 * t / rows);
            RowOps.layerNormBackward(dyv, xv, gv, mv, rv, dxv, pg[slot], pb[slot], d, r0, r1);
        });
        Arrays.fill(dg, 0f);
        Arrays.fill(db, 0f);
        for (int i = 0; i < t; i++) {
            Pointwise.axpy(1f, pg[i], 0, dg, 0, d);
            Pointwise.axpy(1f, pb[i], 0, db, 0, d);
        }
    }

    // ---------------------------------------------------------------- attention

    @Override protected void attentionForwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal) {
        int t = q.dim(2), d = q.dim(3), s = k.dim(2), dv = v.dim(3);
        Attention.Dims m = Attention.Dims.dense(t, s, d, dv);
        float[] qv = data(q), kv = data(k), vv = data(v), ov = data(out), lv = data(lse);
        forwardSlices(q.dim(0) * q.dim(1), m, causal, (i, t0, part, scratch) ->
                Attention.forward(qv, (i * t + t0) * d, kv, i * s * d, vv, i * s * dv, ov, (i * t + t0) * dv, lv, i * t + t0, part, scale, causal, scratch));
    }

    @Override protected void attentionBackwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                                                   Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal) {
        int t = q.dim(2), d = q.dim(3), s = k.dim(2), dvn = v.dim(3);
        Attention.Dims m = Attention.Dims.dense(t, s, d, dvn);
        float[] qv = data(q), kv = data(k), vv = data(v), ov = data(out), lv = data(lse), dov = data(dout);
        float[] dqv = data(dq), dkv = data(dk), dvv = data(dv);
        slices(q.dim(0) * q.dim(1), m, (i, scratch) ->
                Attention.backward(qv, i * t * d, kv, i * s * d, vv, i * s * dvn, ov, i * t * dvn, lv, i * t,
                        dov, dqv, dkv, dvv, m, scale, causal, scratch));
    }

    // Packed qkv [B,T,3,H,D]: slice (b, h)'s queries start at b·T·3HD + h·D, its keys HD and its values 2HD further,
    // rows 3HD apart; its output rows in out [B,T,H,D] at b·T·HD + h·D, HD apart.
    @Override protected void attentionPackedForwardImpl(Tensor qkv, Tensor out, Tensor lse, float scale, boolean causal) {
        int h = qkv.dim(3), t = qkv.dim(1), d = qkv.dim(4), hd = h * d;
        Attention.Dims m = new Attention.Dims(t, t, d, d, 3 * hd, 3 * hd, hd);
        float[] x = data(qkv), ov = data(out), lv = data(lse);
        forwardSlices(qkv.dim(0) * h, m, causal, (i, t0, part, scratch) -> {
            int qo = (i / h) * t * 3 * hd + (i % h) * d, oo = (i / h) * t * hd + (i % h) * d;
            Attention.forward(x, qo + t0 * 3 * hd, x, qo + hd, x, qo + 2 * hd, ov, oo + t0 * hd, lv, i * t + t0, part, scale, causal, scratch);
        });
    }

    @Override protected void attentionPackedBackwardImpl(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv,
                                                         float scale, boolean causal) {
        int h = qkv.dim(3), t = qkv.dim(1), d = qkv.dim(4), hd = h * d;
        Attention.Dims m = new Attention.Dims(t, t, d, d, 3 * hd, 3 * hd, hd);
        float[] x = data(qkv), ov = data(out), lv = data(lse), dov = data(dout), dx = data(dqkv);
        slices(qkv.dim(0) * h, m, (i, scratch) -> {
            int qo = (i / h) * t * 3 * hd + (i % h) * d, oo = (i / h) * t * hd + (i % h) * d;
            Attention.backward(x, qo, x, qo + hd, x, qo + 2 * hd, ov, oo, lv, i * t, dov, dx, dx, dx, m, scale, causal, scratch);
        });
    }

    private interface SliceWork { void run(int slice, float[] scratch); }

    /** Attention's (batch, head) slices claimed by the threads in chunks, each thread with its own scratch. */
    private void slices(int count, Attention.Dims m, SliceWork work) {
        int size = Attention.scratchSize(m);
        par.forRange(count, 1, (i0, i1) -> {
            float[] scratch = SLICE_SCRATCH.get();
            if (scratch.length < size) SLICE_SCRATCH.set(scratch = new float[size]);
            for (int i = i0; i < i1; i++) work.run(i, scratch);
        });
    }

    /** Queries [t0, t0 + part.t()) of a slice; part has the slice's keys and strides. */
    private interface QueryWork { void run(int slice, int t0, Attention.Dims part, float[] scratch); }

    /**
     * The forward's slices, each cut into parts of its queries (multiples of 8 rows) when there are too few slices
     * for the threads to share evenly: batch 1's three heads on two threads would leave one thread idle for a third
     * of the op. A part lays out the slice's K and V again, so slices stay whole otherwise, and always under a causal
     * mask, whose rows count from the slice's first query.
     */
    private void forwardSlices(int count, Attention.Dims m, boolean causal, QueryWork work) {
        int threads = par.threads(), t = m.t();
        int parts = causal || count % threads == 0 || count >= Parallel.CHUNKS_PER_THREAD * threads ? 1 : Math.max(1, Math.min(threads, t / 8));
        slices(count * parts, m, (i, scratch) -> {
            int p = i % parts, t0 = t * p / parts & ~7, t1 = p == parts - 1 ? t : t * (p + 1) / parts & ~7;
            work.run(i / parts, t0, parts == 1 ? m : new Attention.Dims(t1 - t0, m.s(), m.d(), m.dv(), m.ldqk(), m.ldv(), m.ldo()), scratch);
        });
    }

    /** Each thread's attention scratch, grown as needed and kept: a call now runs several chunks per thread. */
    private static final ThreadLocal<float[]> SLICE_SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    // ---------------------------------------------------------------- element-wise

    @Override protected void binaryImpl(Binary kind, Tensor a, Tensor b, Tensor out) {
        float[] av = data(a), bv = data(b), ov = data(out);
        int nb = b.numel(), blocks = nb == 0 ? 0 : a.numel() / nb;
        par.forRange(blocks, Math.max(1, GRAIN / Math.max(1, nb)), (b0, b1) -> Pointwise.binary(kind, av, bv, nb, ov, b0 * nb, b1 * nb));
    }

    @Override protected void scaleImpl(Tensor x, float alpha, Tensor out) {
        float[] xv = data(x), ov = data(out);
        elements(x.numel(), (i0, i1) -> Pointwise.scale(xv, alpha, ov, i0, i1));
    }

    @Override protected void axpyImpl(float alpha, Tensor x, Tensor y) {
        float[] xv = data(x), yv = data(y);
        elements(x.numel(), (i0, i1) -> Pointwise.axpy(alpha, xv, i0, yv, i0, i1 - i0));
    }

    @Override protected void sumImpl(Tensor x, boolean[] reduce, Tensor out) {
        Layout.sum(data(x), x.shape(), reduce, data(out));
    }

    // ---------------------------------------------------------------- layout

    @Override protected void permuteImpl(Tensor x, Tensor out, int[] perm) {
        if (x.rank() == 0 || x.numel() == 0) { copyImpl(x, out); return; }
        float[] xv = data(x), ov = data(out);
        int inner = out.dim(-1);
        par.forRange(x.numel() / inner, Math.max(1, GRAIN / inner),
                (r0, r1) -> Layout.permute(xv, x.shape(), ov, perm, r0 * inner, r1 * inner));
    }

    @Override protected void sliceImpl(Tensor x, int axis, int start, Tensor out) {
        Layout.sliceCopy(data(x), x.shape(), data(out), axis, start, out.dim(axis), false);
    }

    @Override protected void insertSliceImpl(Tensor src, int axis, int start, Tensor dst) {
        Layout.sliceCopy(data(dst), dst.shape(), data(src), axis, start, src.dim(axis), true);
    }

    @Override protected void gatherImpl(Tensor table, Tensor idx, Tensor out) {
        float[] tv = data(table), iv = data(idx), ov = data(out);
        int rows = table.dim(0), d = table.dim(1);
        for (int i = 0; i < iv.length; i++) System.arraycopy(tv, Layout.index(iv, i, rows, "gather") * d, ov, i * d, d);
    }

    @Override protected void scatterAddImpl(Tensor src, Tensor idx, Tensor table) {
        float[] sv = data(src), iv = data(idx), tv = data(table);
        int rows = table.dim(0), d = table.dim(1);
        for (int i = 0; i < iv.length; i++) Layout.index(iv, i, rows, "scatterAdd"); // validate before touching table
        for (int i = 0; i < iv.length; i++) Pointwise.axpy(1f, sv, i * d, tv, (int) iv[i] * d, d);
    }

    // ---------------------------------------------------------------- optimizers

    @Override protected void sgdStepImpl(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, boolean nesterov) {
        float[] p = data(param), g = data(grad), buf = momentum == 0 ? null : data(velocity);
        elements(param.numel(), (i0, i1) -> Pointwise.sgd(p, g, buf, lr, momentum, weightDecay, nesterov, i0, i1));
    }

    @Override protected void adamWStepImpl(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                                           float lr, float beta1, float beta2, float eps, float weightDecay) {
        float[] p = data(param), g = data(grad), mv = data(m), vv = data(v);
        float c1 = (float) (1 / (1 - Math.pow(beta1, step))), c2 = (float) (1 / (1 - Math.pow(beta2, step)));
        elements(param.numel(), (i0, i1) -> Pointwise.adamW(p, g, mv, vv, lr, beta1, beta2, eps, weightDecay, c1, c2, i0, i1));
    }

}
