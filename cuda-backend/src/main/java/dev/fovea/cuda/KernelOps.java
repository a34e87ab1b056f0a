package dev.fovea.cuda;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.BooleanSupplier;
import java.util.function.ToLongFunction;

/**
 * The ops that run on Fovea's own kernels (kernels.cu): the launch geometry and each kernel's arguments, in the order
 * its signature declares them. The CUDA backend launches them on the device; a test launches the same calls on the
 * kernels compiled for the host under a CUDA emulation (KernelEmulationTest), which checks the kernels and this
 * marshalling against the reference without a GPU. Tensors are device (or emulated) addresses given by {@code ptr};
 * temporaries come from the backend.
 */
final class KernelOps {
    /** Launches a kernel of kernels.cu by name on gridX × gridY blocks of {@code block} threads. */
    interface Launcher {
        void launch(String kernel, int gridX, int gridY, int block, long sharedBytes, Kernels.ArgWriter args);
    }

    private final Backend be;
    private final Launcher launcher;
    private final ToLongFunction<Tensor> address;
    private final BooleanSupplier capturing;
    private Tensor flag;

    /**
     * @param capturing true while work is recorded, not run (a CUDA graph): the index checks then cannot read their
     *                  flag and are skipped
     */
    KernelOps(Backend be, Launcher launcher, ToLongFunction<Tensor> address, BooleanSupplier capturing) {
        this.be = be;
        this.launcher = launcher;
        this.address = address;
        this.capturing = capturing;
    }

    long ptr(Tensor t) { return address.applyAsLong(t); }

    /** Frees the index-check flag. */
    void close() { if (flag != null) flag.close(); }

    private void launch(String kernel, int blocks, Kernels.ArgWriter w) {
        launcher.launch(kernel, blocks, 1, 256, 0, w);
    }

    /** One block per row: rows (capped, the kernels loop) and threads (a multiple of 32, up to 256) for rows of n. */
    private void launchRows(String kernel, int rows, int n, Kernels.ArgWriter w) {
        int threads = Math.clamp((n + 31) / 32 * 32, 32, 256);
        launcher.launch(kernel, Math.min(rows, 1 << 20), 1, threads, 0, w);
    }

    /** t ← value (any bits: the kernel stores the float as given). */
    void fill(Tensor t, float value) {
        long n = t.numel();
        launch("fill", Kernels.blocksFor(n), a -> a.ptr(ptr(t)).f(value).l(n));
    }

    /** y[n, c, :] += bias[c], a convolution's bias. */
    void addChannelBias(Tensor y, Tensor bias) {
        long n = y.numel(), hw = (long) y.dim(2) * y.dim(3);
        launch("addChannelBias", Kernels.blocksFor(n), a -> a.ptr(ptr(y)).ptr(ptr(bias)).i(y.dim(1)).l(hw).l(n));
    }

    // ---------------------------------------------------------------- index checks

    private static final int NO_BAD = 0x7f7f7f7f;

    /** Resets the flag that the index-checking kernels lower (atomicMin) to the first bad position. */
    private long armFlag() {
        if (flag == null) flag = be.empty(1);
        fill(flag, Float.intBitsToFloat(NO_BAD));
        return ptr(flag);
    }

    /** The first bad position the last checked kernel saw, or -1; not read (no sync) while capturing a graph. */
    private int badPosition() {
        if (capturing.getAsBoolean()) return -1;
        int v = Float.floatToRawIntBits(be.download(flag)[0]);
        return v == NO_BAD ? -1 : v;
    }

    private static float valueAt(Tensor t, int i) { return t.toArray()[i]; }

    // ---------------------------------------------------------------- activations

    void activationForward(Activation f, Tensor x, Tensor y) {
        long n = x.numel();
        launch("activationForward", Kernels.blocksFor(n), a -> a.i(f.ordinal()).ptr(ptr(x)).ptr(ptr(y)).l(n));
    }

    void activationBackward(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        long n = x.numel();
        launch("activationBackward", Kernels.blocksFor(n), a -> a.i(f.ordinal()).ptr(ptr(x)).ptr(ptr(y)).ptr(ptr(dy)).ptr(ptr(dx)).l(n));
    }

    // ---------------------------------------------------------------- softmax and cross-entropy

    void softmaxForward(Tensor x, Tensor y, boolean causal) {
        int n = x.dim(-1), rows = n == 0 ? 0 : x.numel() / n, t = causal ? x.dim(-2) : 1;
        launchRows("softmaxForward", rows, n, a -> a.ptr(ptr(x)).ptr(ptr(y)).i(rows).i(n).i(t).i(causal ? 1 : 0));
    }

    void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        int n = y.dim(-1), rows = n == 0 ? 0 : y.numel() / n;
        launchRows("softmaxBackward", rows, n, a -> a.ptr(ptr(y)).ptr(ptr(dy)).ptr(ptr(dx)).i(rows).i(n));
    }

    private void labelError(Tensor labels, int classes) {
        int bad = badPosition();
        if (bad >= 0)
            throw new IllegalArgumentException("crossEntropy: labels[" + bad + "] = " + valueAt(labels, bad) + " is not a class index in [0, " + classes + ")");
    }

    void crossEntropyForward(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing) {
        int rows = logits.dim(0), c = logits.dim(1);
        long bad = armFlag();
        try (Tensor rowLoss = be.empty(rows)) {
            launchRows("crossEntropyRows", rows, c, a -> a.ptr(ptr(logits)).ptr(ptr(labels)).ptr(ptr(probs)).ptr(ptr(rowLoss))
                    .i(rows).i(c).f(smoothing).ptr(bad));
            launcher.launch("meanOf", 1, 1, 256, 0, a -> a.ptr(ptr(rowLoss)).ptr(ptr(loss)).i(rows));
        }
        labelError(labels, c);
    }

    void crossEntropyBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing) {
        int rows = probs.dim(0), c = probs.dim(1);
        long n = (long) rows * c;
        long bad = armFlag();
        launch("crossEntropyBackward", Kernels.blocksFor(n), a -> a.ptr(ptr(probs)).ptr(ptr(labels)).ptr(ptr(dloss)).ptr(ptr(dlogits))
                .i(rows).i(c).f(smoothing).ptr(bad));
        labelError(labels, c);
    }

    // ---------------------------------------------------------------- layer norm

    void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, int d) {
        int rows = d == 0 ? 0 : x.numel() / d;
        launchRows("layerNormForward", rows, d, a -> a.ptr(ptr(x)).ptr(ptr(gamma)).ptr(ptr(beta)).f(eps)
                .ptr(ptr(y)).ptr(ptr(mean)).ptr(ptr(rstd)).i(rows).i(d));
    }

    private static final int LN_CHUNK = 64;

    void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dx, Tensor dgamma, Tensor dbeta, int d) {
        int rows = d == 0 ? 0 : x.numel() / d;
        if (rows == 0) { be.fill(dgamma, 0f); be.fill(dbeta, 0f); return; }
        launchRows("layerNormBackwardData", rows, d, a -> a.ptr(ptr(dy)).ptr(ptr(x)).ptr(ptr(gamma)).ptr(ptr(mean)).ptr(ptr(rstd))
                .ptr(ptr(dx)).i(rows).i(d));
        int chunks = (rows + LN_CHUNK - 1) / LN_CHUNK;
        try (Tensor part = be.empty(2, chunks, d)) {
            long n = (long) chunks * d;
            launch("layerNormBackwardParams", Kernels.blocksFor(n), a -> a.ptr(ptr(dy)).ptr(ptr(x)).ptr(ptr(mean)).ptr(ptr(rstd))
                    .ptr(ptr(part)).i(rows).i(d).i(LN_CHUNK));
            launch("colSum", Kernels.blocksFor(d), a -> a.ptr(ptr(part)).ptr(ptr(dgamma)).i(chunks).i(d));
            launch("colSum", Kernels.blocksFor(d), a -> a.ptr(ptr(part) + 4 * n).ptr(ptr(dbeta)).i(chunks).i(d));
        }
    }

    // ---------------------------------------------------------------- fused attention

    /** Strided [B, H, T, D] view of an operand (see kernels.cu's View): base address and strides in elements. */
    private record View(long base, long sB, long sH, long sT) {
        static View contiguous(KernelOps o, Tensor t) { // [B, H, T, D]
            int h = t.dim(1), tt = t.dim(2), d = t.dim(3);
            return new View(o.ptr(t), (long) h * tt * d, (long) tt * d, d);
        }

        /** Part {@code which} (0 q, 1 k, 2 v) of a packed [B, T, 3, H, D] tensor. */
        static View packed(KernelOps o, Tensor qkv, int which) {
            int t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
            return new View(o.ptr(qkv) + 4L * which * h * d, (long) t * 3 * h * d, d, 3L * h * d);
        }

        /** A [B, T, H, D] tensor seen as [B, H, T, D]. */
        static View tokensFirst(KernelOps ops, Tensor o) {
            int t = o.dim(1), h = o.dim(2), d = o.dim(3);
            return new View(ops.ptr(o), (long) t * h * d, d, (long) h * d);
        }

        void write(Kernels.Args a) {
            MemorySegment s = a.arena().allocate(24, 8);
            s.set(ValueLayout.JAVA_LONG, 0, sB);
            s.set(ValueLayout.JAVA_LONG, 8, sH);
            s.set(ValueLayout.JAVA_LONG, 16, sT);
            a.ptr(base).struct(s);
        }
    }

    private static final int ATT_WARPS = 4, SHARED_LIMIT = 48 * 1024;

    /** Rows of K/V (or Q/dO) per shared-memory tile, given the floats a tile row and the per-warp buffers take. */
    private static int tile(int perRow, int fixed, int d, int dv) {
        int t = (SHARED_LIMIT / 4 - fixed) / Math.max(1, perRow);
        if (t < 1) throw new IllegalArgumentException("attention: head sizes d=" + d + ", dv=" + dv + " are too large for the CUDA kernel's shared memory");
        return Math.min(64, t);
    }

    private void attentionForward(View q, View k, View v, View out, Tensor lse, int b, int h, int t, int s, int d, int dv, float scale, boolean causal) {
        if (b * h == 0 || t == 0) return;
        if ((long) b * h > 65535) throw new IllegalArgumentException("attention: batch × heads = " + (long) b * h + " exceeds the CUDA grid's 65535");
        int tile = tile(d + dv, ATT_WARPS * (d + dv), d, dv);
        long shared = 4L * (tile * (d + dv) + ATT_WARPS * (d + dv));
        launcher.launch("attentionForward", (t + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, shared, a -> {
            q.write(a); k.write(a); v.write(a); out.write(a);
            a.ptr(ptr(lse)).i(h).i(t).i(s).i(d).i(dv).f(scale).i(causal ? 1 : 0).i(tile);
        });
    }

    private void attentionBackward(View q, View k, View v, View out, Tensor lse, View dout, View dq, View dk, View dvw,
                                   int b, int h, int t, int s, int d, int dv, float scale, boolean causal) {
        if (b * h == 0) return;
        if ((long) b * h > 65535) throw new IllegalArgumentException("attention: batch × heads = " + (long) b * h + " exceeds the CUDA grid's 65535");
        try (Tensor delta = be.empty(b, h, Math.max(t, 1))) {
            launcher.launch("attentionDelta", (t + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, 0, a -> {
                out.write(a); dout.write(a); a.ptr(ptr(delta)).i(h).i(t).i(dv);
            });
            int tq = tile(d + dv, ATT_WARPS * (2 * d + dv), d, dv);
            long sq = 4L * (tq * (d + dv) + ATT_WARPS * (2 * d + dv));
            launcher.launch("attentionBackwardQ", (t + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, sq, a -> {
                q.write(a); k.write(a); v.write(a); dout.write(a); a.ptr(ptr(lse)).ptr(ptr(delta)); dq.write(a);
                a.i(h).i(t).i(s).i(d).i(dv).f(scale).i(causal ? 1 : 0).i(tq);
            });
            int tk = tile(d + dv + 2, ATT_WARPS * 2 * (d + dv), d, dv);
            long sk = 4L * (tk * (d + dv + 2) + ATT_WARPS * 2 * (d + dv));
            launcher.launch("attentionBackwardKV", (s + ATT_WARPS - 1) / ATT_WARPS, b * h, 32 * ATT_WARPS, sk, a -> {
                q.write(a); k.write(a); v.write(a); dout.write(a); a.ptr(ptr(lse)).ptr(ptr(delta)); dk.write(a); dvw.write(a);
                a.i(h).i(t).i(s).i(d).i(dv).f(scale).i(causal ? 1 : 0).i(tk);
            });
        }
    }

    void attentionForward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal) {
        attentionForward(View.contiguous(this, q), View.contiguous(this, k), View.contiguous(this, v), View.contiguous(this, out), lse,
                q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), scale, causal);
    }

    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                           Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal) {
        attentionBackward(View.contiguous(this, q), View.contiguous(this, k), View.contiguous(this, v), View.contiguous(this, out), lse, View.contiguous(this, dout),
                View.contiguous(this, dq), View.contiguous(this, dk), View.contiguous(this, dv), q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3), scale, causal);
    }

    void attentionPackedForward(Tensor qkv, Tensor out, Tensor lse, float scale, boolean causal) {
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        attentionForward(View.packed(this, qkv, 0), View.packed(this, qkv, 1), View.packed(this, qkv, 2), View.tokensFirst(this, out), lse, b, h, t, t, d, d, scale, causal);
    }

    void attentionPackedBackward(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, float scale, boolean causal) {
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        attentionBackward(View.packed(this, qkv, 0), View.packed(this, qkv, 1), View.packed(this, qkv, 2), View.tokensFirst(this, out), lse, View.tokensFirst(this, dout),
                View.packed(this, dqkv, 0), View.packed(this, dqkv, 1), View.packed(this, dqkv, 2), b, h, t, t, d, d, scale, causal);
    }

    // ---------------------------------------------------------------- element-wise

    void binary(Backend.Binary kind, Tensor a, Tensor b, Tensor out) {
        long n = a.numel(), nb = b.numel();
        if (n == 0) return;
        launch("binary", Kernels.blocksFor(n), w -> w.i(kind.ordinal()).ptr(ptr(a)).ptr(ptr(b)).ptr(ptr(out)).l(n).l(nb));
    }

    void scale(Tensor x, float alpha, Tensor out) {
        long n = x.numel();
        launch("scale", Kernels.blocksFor(n), a -> a.ptr(ptr(x)).f(alpha).ptr(ptr(out)).l(n));
    }

    void axpy(float alpha, Tensor x, Tensor y) {
        long n = x.numel();
        launch("axpy", Kernels.blocksFor(n), a -> a.f(alpha).ptr(ptr(x)).ptr(ptr(y)).l(n));
    }

    void sum(Tensor x, boolean[] reduce, Tensor out) {
        int[] xs = x.shape();
        int r = xs.length;
        if (out.numel() == 0) return;
        long kept = out.numel(), folded = x.numel() / Math.max(1, kept);
        if (x.numel() == 0) { be.fill(out, 0f); return; }
        int firstKept = 0;
        while (firstKept < r && reduce[firstKept]) firstKept++;
        int lastKept = r - 1;
        while (lastKept >= 0 && reduce[lastKept]) lastKept--;
        boolean keptContiguous = true;
        for (int i = firstKept; i <= lastKept; i++) keptContiguous &= !reduce[i];
        if (keptContiguous && lastKept == r - 1) {           // reduced axes lead: sum over rows of [folded, kept]
            launch("colSum", Kernels.blocksFor(kept), a -> a.ptr(ptr(x)).ptr(ptr(out)).i((int) folded).i((int) kept));
            return;
        }
        if (kept == 1 || keptContiguous && firstKept == 0) { // reduced axes trail (or all): sum each row of [kept, folded]
            launchRows("rowSum", (int) kept, (int) folded, a -> a.ptr(ptr(x)).ptr(ptr(out)).i((int) kept).i((int) folded));
            return;
        }
        int[] perm = new int[r];                             // otherwise kept axes first, then row sums
        int j = 0;
        for (int i = 0; i < r; i++) if (!reduce[i]) perm[j++] = i;
        for (int i = 0; i < r; i++) if (reduce[i]) perm[j++] = i;
        int[] ps = new int[r];
        for (int i = 0; i < r; i++) ps[i] = xs[perm[i]];
        try (Tensor moved = be.empty(ps)) {
            permute(x, moved, perm);
            launchRows("rowSum", (int) kept, (int) folded, a -> a.ptr(ptr(moved)).ptr(ptr(out)).i((int) kept).i((int) folded));
        }
    }

    // ---------------------------------------------------------------- layout

    private static final int MAX_DIMS = 8;

    void permute(Tensor x, Tensor out, int[] perm) {
        long n = x.numel();
        if (n == 0) return;
        if (perm.length > MAX_DIMS) throw new IllegalArgumentException("permute: the CUDA kernel takes at most " + MAX_DIMS + " axes, got " + perm.length);
        int[] xStr = Shape.strides(x.shape()), os = out.shape();
        launch("permute", Kernels.blocksFor(n), a -> {
            MemorySegment dims = a.arena().allocate(4L * (1 + 2 * MAX_DIMS), 4);
            dims.set(ValueLayout.JAVA_INT, 0, perm.length);
            for (int i = 0; i < perm.length; i++) {
                dims.set(ValueLayout.JAVA_INT, 4L * (1 + i), os[i]);
                dims.set(ValueLayout.JAVA_INT, 4L * (1 + MAX_DIMS + i), xStr[perm[i]]);
            }
            a.ptr(ptr(x)).ptr(ptr(out)).struct(dims).l(n);
        });
    }

    private void sliceCopy(Tensor whole, Tensor part, int axis, int start, boolean toWhole) {
        int[] ps = part.shape();
        long outer = Shape.prod(ps, 0, axis), inner = Shape.prod(ps, axis + 1, ps.length);
        long n = part.numel();
        if (n == 0) return;
        launch("sliceCopy", Kernels.blocksFor(n), a -> a.ptr(ptr(whole)).ptr(ptr(part)).l(outer).i(ps[axis]).i(whole.dim(axis)).l(inner)
                .i(start).i(toWhole ? 1 : 0));
    }

    void slice(Tensor x, int axis, int start, Tensor out) { sliceCopy(x, out, axis, start, false); }
    void insertSlice(Tensor src, int axis, int start, Tensor dst) { sliceCopy(dst, src, axis, start, true); }

    private void indexError(String op, Tensor idx, int rows) {
        int bad = badPosition();
        if (bad >= 0) throw new IllegalArgumentException(op + ": idx[" + bad + "] = " + valueAt(idx, bad) + " is not a row index in [0, " + rows + ")");
    }

    void gather(Tensor table, Tensor idx, Tensor out) {
        int n = idx.dim(0), d = table.dim(1), rows = table.dim(0);
        if (n == 0) return;
        long bad = armFlag();
        launch("gatherRows", Kernels.blocksFor((long) n * d), a -> a.ptr(ptr(table)).ptr(ptr(idx)).ptr(ptr(out)).i(n).i(d).i(rows).ptr(bad));
        indexError("gather", idx, rows);
    }

    void scatterAdd(Tensor src, Tensor idx, Tensor table) {
        int n = idx.dim(0), d = table.dim(1), rows = table.dim(0);
        if (n == 0 || d == 0) return;
        long bad = armFlag();
        launch("scatterAddRows", Kernels.blocksFor(d), a -> a.ptr(ptr(src)).ptr(ptr(idx)).ptr(ptr(table)).i(n).i(d).i(rows).ptr(bad));
        indexError("scatterAdd", idx, rows);
    }

    // ---------------------------------------------------------------- optimizer steps

    void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, boolean nesterov) {
        long n = param.numel();
        launch("sgdStep", Kernels.blocksFor(n), a -> a.ptr(ptr(param)).ptr(ptr(grad)).ptr(momentum == 0 ? 0 : ptr(velocity))
                .f(lr).f(momentum).f(weightDecay).i(nesterov ? 1 : 0).l(n));
    }

    void adamWStep(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                   float lr, float beta1, float beta2, float eps, float weightDecay) {
        long n = param.numel();
        float c1 = (float) (1 - Math.pow(beta1, step)), c2 = (float) (1 - Math.pow(beta2, step));
        launch("adamWStep", Kernels.blocksFor(n), a -> a.ptr(ptr(param)).ptr(ptr(grad)).ptr(ptr(m)).ptr(ptr(v))
                .f(lr).f(beta1).f(beta2).f(eps).f(weightDecay).f(c1).f(c2).l(n));
    }

}
