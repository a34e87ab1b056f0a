package dev.fovea.backend;

import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Storage;
import dev.fovea.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The small, explicit op set that every backend implements: memory, GEMM, convolution, pooling, activations,
 * softmax, cross-entropy, layer norm, fused attention, element-wise and layout ops, optimizer steps — each with
 * its backward. Ops write into output tensors the caller allocated (as cuDNN and cuBLAS do), so a backend never
 * allocates behind the caller's back.
 *
 * <p>Every public op is final: it checks its arguments here, once for all backends, and throws
 * {@link IllegalArgumentException} naming the op, the argument, the expected and the actual shape; only then does it
 * call the backend's {@code *Impl} method, which may assume valid arguments.
 */
public abstract class Backend implements AutoCloseable {

    /** The name users select this backend by: "cpu", "cuda", ... */
    public abstract String name();

    /** What this backend is: device, library versions, which implementation serves each op. */
    public abstract String describe();

    /** Bytes of backend memory held by live tensors (for leak checks). */
    public abstract long bytesInUse();

    /**
     * Waits until every op queued so far has finished. The CPU backends compute before an op returns (nothing to
     * wait for); a device backend queues work, so a benchmark calls this before it reads the clock.
     */
    public void synchronize() {}

    /** Frees resources the backend itself holds (thread pools, workspaces); tensors are freed by their owners. */
    @Override public void close() {}

    // ---------------------------------------------------------------- memory

    /** A new zero-filled tensor owned by the caller. */
    public final Tensor zeros(int... shape) {
        long n = Shape.numel(shape);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("zeros: shape " + Shape.str(shape) + " has more than 2^31-1 elements");
        return new Tensor(this, allocate((int) n), shape, true);
    }

    /**
     * A new tensor whose contents are unspecified, for an output that an op overwrites entirely (every op's output
     * argument is overwritten unless its documentation says it accumulates). Cheaper than {@link #zeros} when the
     * backend recycles memory.
     */
    public final Tensor empty(int... shape) {
        long n = Shape.numel(shape);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("empty: shape " + Shape.str(shape) + " has more than 2^31-1 elements");
        return new Tensor(this, allocateUninitialized((int) n), shape, true);
    }

    /** A new tensor holding a copy of {@code data}. */
    public final Tensor upload(float[] data, int... shape) {
        if (data.length != Shape.numel(shape))
            throw new IllegalArgumentException("upload: shape " + Shape.str(shape) + " needs " + Shape.numel(shape) + " floats, got " + data.length);
        Tensor t = empty(shape);
        uploadImpl(data, t);
        return t;
    }

    /** A new tensor holding a copy of little-endian float32 values in {@code src}. */
    public final Tensor upload(MemorySegment src, int... shape) {
        if (src.byteSize() != 4 * Shape.numel(shape))
            throw new IllegalArgumentException("upload: shape " + Shape.str(shape) + " needs " + 4 * Shape.numel(shape) + " bytes, segment has " + src.byteSize());
        Tensor t = empty(shape);
        uploadImpl(src, t);
        return t;
    }

    /** dst ← little-endian float32 values in {@code src} (as many as dst holds): an upload into a tensor that exists. */
    public final void write(MemorySegment src, Tensor dst) {
        own("write", "dst", dst);
        if (src.byteSize() != 4L * dst.numel())
            throw new IllegalArgumentException("write: dst has " + dst.numel() + " floats, segment holds " + src.byteSize() + " bytes");
        uploadImpl(src, dst);
    }

    public final float[] download(Tensor t) {
        own("download", "t", t);
        float[] out = new float[t.numel()];
        downloadImpl(t, out);
        return out;
    }

    public final void download(Tensor t, MemorySegment dst) {
        own("download", "t", t);
        if (dst.byteSize() != 4L * t.numel())
            throw new IllegalArgumentException("download: t has " + t.numel() + " floats, segment holds " + dst.byteSize() + " bytes");
        downloadImpl(t, dst);
    }

    /** dst ← src (same element count). */
    public final void copy(Tensor src, Tensor dst) {
        own("copy", "src", src); own("copy", "dst", dst);
        sameCount("copy", "dst", dst, src);
        copyImpl(src, dst);
    }

    public final void fill(Tensor t, float value) {
        own("fill", "t", t);
        fillImpl(t, value);
    }

    /** Zero-filled storage. */
    protected abstract Storage allocate(int elements);

    /** Storage with unspecified contents; zero-filled unless the backend recycles memory. */
    protected Storage allocateUninitialized(int elements) { return allocate(elements); }
    protected abstract void uploadImpl(float[] src, Tensor dst);
    protected abstract void uploadImpl(MemorySegment src, Tensor dst);
    protected abstract void downloadImpl(Tensor src, float[] dst);
    protected abstract void downloadImpl(Tensor src, MemorySegment dst);
    protected abstract void copyImpl(Tensor src, Tensor dst);
    protected abstract void fillImpl(Tensor t, float value);

    // ---------------------------------------------------------------- GEMM

    /**
     * c ← alpha·op(a)·op(b) + beta·c, where op transposes the last two dimensions when asked.
     * a: [M, K] ([K, M] if transA) or with a leading batch [Bt, ...]; b: [K, N] ([N, K] if transB), batched or not;
     * c: [M, N] or [Bt, M, N]. A rank-2 operand is shared by every batch entry (a weight matrix).
     */
    public final void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        gemm(a, transA, b, transB, c, alpha, beta, Epilogue.NONE);
    }

    /**
     * The same with an epilogue (a bias row, a residual) added to C on the way out, as cuBLASLt does: a backend may
     * fuse it into the product instead of passing over C again. With an epilogue, C and the operands are matrices
     * (rank 2).
     */
    public final void gemm(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta, Epilogue e) {
        String op = "gemm";
        own(op, "a", a); own(op, "b", b); own(op, "c", c);
        rankIn(op, "a", a, 2, 3); rankIn(op, "b", b, 2, 3); rankIn(op, "c", c, 2, 3);
        int m = transA ? a.dim(-1) : a.dim(-2), ka = transA ? a.dim(-2) : a.dim(-1);
        int kb = transB ? b.dim(-1) : b.dim(-2), n = transB ? b.dim(-2) : b.dim(-1);
        if (ka != kb) throw new IllegalArgumentException(op + ": inner dimensions differ: a " + Shape.str(a.shape())
                + (transA ? " (transposed)" : "") + " gives K=" + ka + ", b " + Shape.str(b.shape()) + (transB ? " (transposed)" : "") + " gives K=" + kb);
        int batch = c.rank() == 3 ? c.dim(0) : 1;
        if (c.rank() == 2 && (a.rank() == 3 || b.rank() == 3))
            throw new IllegalArgumentException(op + ": c " + Shape.str(c.shape()) + " is rank 2 but an operand is batched (a " + Shape.str(a.shape()) + ", b " + Shape.str(b.shape()) + ")");
        if (a.rank() == 3 && a.dim(0) != batch) throw new IllegalArgumentException(op + ": a has batch " + a.dim(0) + ", c has batch " + batch);
        if (b.rank() == 3 && b.dim(0) != batch) throw new IllegalArgumentException(op + ": b has batch " + b.dim(0) + ", c has batch " + batch);
        if (c.dim(-2) != m || c.dim(-1) != n)
            throw new IllegalArgumentException(op + ": c: expected [.., " + m + ", " + n + "], got " + Shape.str(c.shape()));
        if (!e.isNone()) {
            if (c.rank() != 2) throw new IllegalArgumentException(op + ": an epilogue needs rank-2 c, got " + Shape.str(c.shape()));
            if (e.bias() != null) { own(op, "bias", e.bias()); shape(op, "bias", e.bias(), n); }
            if (e.residual() != null) {
                own(op, "residual", e.residual());
                shape(op, "residual", e.residual(), m, n);
                if (e.residual().storage() == c.storage()) throw new IllegalArgumentException(op + ": residual must not be c itself (use beta = 1)");
            }
            gemmEpilogueImpl(m, n, ka, a, transA, b, transB, c, alpha, beta, e);
            return;
        }
        gemmImpl(batch, m, n, ka, a, transA, a.rank() == 3 ? (long) m * ka : 0, b, transB, b.rank() == 3 ? (long) ka * n : 0, c, alpha, beta);
    }

    /** The GEMM with an epilogue on matrices; by default the GEMM, then a pass over C for each part. */
    protected void gemmEpilogueImpl(int m, int n, int k, Tensor a, boolean transA, Tensor b, boolean transB, Tensor c,
                                    float alpha, float beta, Epilogue e) {
        gemmImpl(1, m, n, k, a, transA, 0, b, transB, 0, c, alpha, beta);
        if (e.bias() != null) binaryImpl(Binary.ADD, c, e.bias(), c);
        if (e.residual() != null) binaryImpl(Binary.ADD, c, e.residual(), c);
    }

    /** Batched strided GEMM on row-major matrices; a batch stride of 0 shares that operand across the batch. */
    protected abstract void gemmImpl(int batch, int m, int n, int k, Tensor a, boolean transA, long strideA,
                                     Tensor b, boolean transB, long strideB, Tensor c, float alpha, float beta);

    // ---------------------------------------------------------------- convolution

    /** y[N,O,OH,OW] ← conv(x[N,C,H,W], w[O,C/g,KH,KW]) + bias[O] (bias may be null). */
    public final void conv2dForward(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s) {
        String op = "conv2dForward";
        checkConv(op, x, w, y, s);
        if (bias != null) { own(op, "bias", bias); shape(op, "bias", bias, w.dim(0)); }
        conv2dForwardImpl(x, w, bias, y, s);
    }

    /** dx[N,C,H,W] ← gradient of conv2d with respect to its input, given dy[N,O,OH,OW]. */
    public final void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s) {
        checkConv("conv2dBackwardData", dx, w, dy, s);
        conv2dBackwardDataImpl(dy, w, dx, s);
    }

    /** dw[O,C/g,KH,KW] ← gradient of conv2d with respect to its filter. */
    public final void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s) {
        checkConv("conv2dBackwardFilter", x, dw, dy, s);
        conv2dBackwardFilterImpl(x, dy, dw, s);
    }

    /** db[O] ← sum of dy[N,O,OH,OW] over N, OH, OW. */
    public final void conv2dBackwardBias(Tensor dy, Tensor db) {
        String op = "conv2dBackwardBias";
        own(op, "dy", dy); own(op, "db", db);
        rank(op, "dy", dy, 4);
        shape(op, "db", db, dy.dim(1));
        conv2dBackwardBiasImpl(dy, db);
    }

    private void checkConv(String op, Tensor x, Tensor w, Tensor y, Conv2dSpec s) {
        own(op, "x", x); own(op, "w", w); own(op, "y", y);
        rank(op, "x", x, 4); rank(op, "w", w, 4); rank(op, "y", y, 4);
        int c = x.dim(1), o = w.dim(0), g = s.groups();
        if (c % g != 0 || o % g != 0)
            throw new IllegalArgumentException(op + ": groups=" + g + " must divide input channels " + c + " and output channels " + o);
        if (w.dim(1) != c / g)
            throw new IllegalArgumentException(op + ": w: expected [" + o + ", " + (c / g) + ", KH, KW] (input channels " + c + " / groups " + g + "), got " + Shape.str(w.shape()));
        if (x.dim(2) + 2 * s.padH() < w.dim(2) || x.dim(3) + 2 * s.padW() < w.dim(3))
            throw new IllegalArgumentException(op + ": kernel " + w.dim(2) + "x" + w.dim(3) + " is larger than the padded input "
                    + (x.dim(2) + 2 * s.padH()) + "x" + (x.dim(3) + 2 * s.padW()) + " of x " + Shape.str(x.shape()));
        int[] expect = s.outputShape(x.shape(), w.shape());
        shape(op, "y/dy", y, expect);
    }

    protected abstract void conv2dForwardImpl(Tensor x, Tensor w, Tensor bias, Tensor y, Conv2dSpec s);
    protected abstract void conv2dBackwardDataImpl(Tensor dy, Tensor w, Tensor dx, Conv2dSpec s);
    protected abstract void conv2dBackwardFilterImpl(Tensor x, Tensor dy, Tensor dw, Conv2dSpec s);
    protected abstract void conv2dBackwardBiasImpl(Tensor dy, Tensor db);

    // ---------------------------------------------------------------- pooling

    /** y[N,C,OH,OW] ← pool(x[N,C,H,W]). */
    public final void pool2dForward(Pool2dSpec s, Tensor x, Tensor y) {
        checkPool("pool2dForward", s, x, y);
        pool2dForwardImpl(s, x, y);
    }

    /** dx ← gradient of pooling given x, its output y and dy (max pooling routes to the first maximum). */
    public final void pool2dBackward(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        String op = "pool2dBackward";
        checkPool(op, s, x, y);
        own(op, "dy", dy); own(op, "dx", dx);
        shape(op, "dy", dy, y.shape()); shape(op, "dx", dx, x.shape());
        pool2dBackwardImpl(s, x, y, dy, dx);
    }

    private void checkPool(String op, Pool2dSpec s, Tensor x, Tensor y) {
        own(op, "x", x); own(op, "y", y);
        rank(op, "x", x, 4);
        if (x.dim(2) + 2 * s.padH() < s.kH() || x.dim(3) + 2 * s.padW() < s.kW())
            throw new IllegalArgumentException(op + ": window " + s.kH() + "x" + s.kW() + " is larger than the padded input of x " + Shape.str(x.shape()));
        shape(op, "y", y, s.outputShape(x.shape()));
    }

    protected abstract void pool2dForwardImpl(Pool2dSpec s, Tensor x, Tensor y);
    protected abstract void pool2dBackwardImpl(Pool2dSpec s, Tensor x, Tensor y, Tensor dy, Tensor dx);

    // ---------------------------------------------------------------- activations

    /** y ← f(x), element-wise; y may be x. */
    public final void activationForward(Activation f, Tensor x, Tensor y) {
        String op = "activationForward(" + f + ")";
        own(op, "x", x); own(op, "y", y);
        shape(op, "y", y, x.shape());
        activationForwardImpl(f, x, y);
    }

    /** dx ← f'(x)·dy given the forward input x and output y; dx may be dy. */
    public final void activationBackward(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        String op = "activationBackward(" + f + ")";
        own(op, "x", x); own(op, "y", y); own(op, "dy", dy); own(op, "dx", dx);
        shape(op, "y", y, x.shape()); shape(op, "dy", dy, x.shape()); shape(op, "dx", dx, x.shape());
        activationBackwardImpl(f, x, y, dy, dx);
    }

    protected abstract void activationForwardImpl(Activation f, Tensor x, Tensor y);
    protected abstract void activationBackwardImpl(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx);

    // ---------------------------------------------------------------- softmax and cross-entropy

    /**
     * y ← softmax over the last axis of x. With {@code causal}, x is [.., T, S] and row t sees only columns
     * s ≤ t (PyTorch's top-left aligned causal mask); masked entries of y are 0.
     */
    public final void softmaxForward(Tensor x, Tensor y, boolean causal) {
        String op = "softmaxForward";
        own(op, "x", x); own(op, "y", y);
        if (x.rank() < (causal ? 2 : 1)) throw new IllegalArgumentException(op + ": x needs rank >= " + (causal ? 2 : 1) + ", got " + Shape.str(x.shape()));
        shape(op, "y", y, x.shape());
        softmaxForwardImpl(x, y, causal);
    }

    /** dx ← (dy − Σ(dy·y))·y along the last axis, given the forward output y. */
    public final void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        String op = "softmaxBackward";
        own(op, "y", y); own(op, "dy", dy); own(op, "dx", dx);
        if (y.rank() < 1) throw new IllegalArgumentException(op + ": y needs rank >= 1");
        shape(op, "dy", dy, y.shape()); shape(op, "dx", dx, y.shape());
        softmaxBackwardImpl(y, dy, dx);
    }

    /**
     * Fused log-softmax + cross-entropy, mean over the batch. logits [N, C]; labels [N] holds class indices as floats;
     * probs [N, C] receives softmax(logits) for the backward; loss is a one-element tensor. With label smoothing ε
     * the target is (1−ε)·onehot + ε/C, as in PyTorch.
     */
    public final void crossEntropyForward(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing) {
        String op = "crossEntropyForward";
        checkXent(op, logits, labels, probs, smoothing);
        own(op, "loss", loss);
        if (loss.numel() != 1) throw new IllegalArgumentException(op + ": loss: expected one element, got " + Shape.str(loss.shape()));
        crossEntropyForwardImpl(logits, labels, probs, loss, smoothing);
    }

    /** dlogits ← dloss·(probs − target)/N, where dloss is the one-element upstream gradient of the mean loss. */
    public final void crossEntropyBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing) {
        String op = "crossEntropyBackward";
        checkXent(op, probs, labels, dlogits, smoothing);
        own(op, "dloss", dloss);
        if (dloss.numel() != 1) throw new IllegalArgumentException(op + ": dloss: expected one element, got " + Shape.str(dloss.shape()));
        crossEntropyBackwardImpl(probs, labels, dloss, dlogits, smoothing);
    }

    private void checkXent(String op, Tensor logits, Tensor labels, Tensor out, float smoothing) {
        own(op, "logits/probs", logits); own(op, "labels", labels); own(op, "out", out);
        rank(op, "logits/probs", logits, 2);
        shape(op, "labels", labels, logits.dim(0));
        shape(op, "probs/dlogits", out, logits.shape());
        if (!(smoothing >= 0 && smoothing < 1)) throw new IllegalArgumentException(op + ": label smoothing must be in [0, 1), got " + smoothing);
    }

    protected abstract void softmaxForwardImpl(Tensor x, Tensor y, boolean causal);
    protected abstract void softmaxBackwardImpl(Tensor y, Tensor dy, Tensor dx);
    /** Implementations must reject a label outside [0, C) with an IllegalArgumentException naming its row. */
    protected abstract void crossEntropyForwardImpl(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing);
    protected abstract void crossEntropyBackwardImpl(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing);

    // ---------------------------------------------------------------- layer norm

    /**
     * y ← (x − mean)·rstd·gamma + beta over the last axis (size D). x, y [R.., D]; gamma, beta [D];
     * mean and rstd [R] (R = rows = numel/D) are saved for the backward.
     */
    public final void layerNormForward(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd) {
        String op = "layerNormForward";
        int d = checkNorm(op, x, gamma, beta, mean, rstd);
        own(op, "y", y); shape(op, "y", y, x.shape());
        if (!(eps > 0)) throw new IllegalArgumentException(op + ": eps must be > 0, got " + eps);
        layerNormForwardImpl(x, gamma, beta, eps, y, mean, rstd, d);
    }

    /** dx, dgamma, dbeta ← gradients of layer norm given dy and the saved mean and rstd. */
    public final void layerNormBackward(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                        Tensor dx, Tensor dgamma, Tensor dbeta) {
        String op = "layerNormBackward";
        int d = checkNorm(op, x, gamma, dbeta, mean, rstd);
        own(op, "dy", dy); own(op, "dx", dx); own(op, "dgamma", dgamma);
        shape(op, "dy", dy, x.shape()); shape(op, "dx", dx, x.shape()); shape(op, "dgamma", dgamma, d);
        layerNormBackwardImpl(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, d);
    }

    private int checkNorm(String op, Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor rstd) {
        own(op, "x", x); own(op, "gamma", gamma); own(op, "beta", beta); own(op, "mean", mean); own(op, "rstd", rstd);
        if (x.rank() < 1) throw new IllegalArgumentException(op + ": x needs rank >= 1");
        int d = x.dim(-1);
        shape(op, "gamma", gamma, d); shape(op, "beta/dbeta", beta, d);
        int rows = x.numel() / Math.max(d, 1);
        shape(op, "mean", mean, rows); shape(op, "rstd", rstd, rows);
        return d;
    }

    protected abstract void layerNormForwardImpl(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, int d);
    protected abstract void layerNormBackwardImpl(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                                  Tensor dx, Tensor dgamma, Tensor dbeta, int d);

    // ---------------------------------------------------------------- fused attention

    /**
     * out ← softmax(scale·q·kᵀ [+ causal mask])·v without materialising the scores.
     * q [B,H,T,D], k [B,H,S,D], v [B,H,S,Dv], out [B,H,T,Dv]; lse [B,H,T] receives each row's log-sum-exp of the
     * scaled scores for the backward. Causal: query t sees keys s ≤ t (top-left aligned, as PyTorch).
     */
    public final void attentionForward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal) {
        checkAttention("attentionForward", q, k, v, out, lse);
        attentionForwardImpl(q, k, v, out, lse, scale, causal);
    }

    /** dq, dk, dv ← gradients of attention given dout and the forward's out and lse. */
    public final void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                                        Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal) {
        String op = "attentionBackward";
        checkAttention(op, q, k, v, out, lse);
        own(op, "dout", dout); own(op, "dq", dq); own(op, "dk", dk); own(op, "dv", dv);
        shape(op, "dout", dout, out.shape()); shape(op, "dq", dq, q.shape()); shape(op, "dk", dk, k.shape()); shape(op, "dv", dv, v.shape());
        attentionBackwardImpl(q, k, v, out, lse, dout, dq, dk, dv, scale, causal);
    }

    private void checkAttention(String op, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse) {
        own(op, "q", q); own(op, "k", k); own(op, "v", v); own(op, "out", out); own(op, "lse", lse);
        rank(op, "q", q, 4);
        int b = q.dim(0), h = q.dim(1), t = q.dim(2), d = q.dim(3);
        rank(op, "k", k, 4);
        int s = k.dim(2);
        shape(op, "k", k, b, h, s, d);
        rank(op, "v", v, 4);
        shape(op, "v", v, b, h, s, v.dim(3));
        shape(op, "out", out, b, h, t, v.dim(3));
        shape(op, "lse", lse, b, h, t);
    }

    protected abstract void attentionForwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal);
    protected abstract void attentionBackwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                                                  Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal);

    /**
     * Self-attention on a packed projection, as a qkv linear layer writes it (FlashAttention's qkv-packed form):
     * qkv [B,T,3,H,D] holds each position's queries, keys and values of every head; out [B,T,H,D] is written in the
     * layout the output projection reads, lse [B,H,T]. The same numbers as {@link #attentionForward} on q, k, v
     * separated by a permute and three slices, without those copies.
     */
    public final void attentionPackedForward(Tensor qkv, Tensor out, Tensor lse, float scale, boolean causal) {
        checkAttentionPacked("attentionPackedForward", qkv, out, lse);
        attentionPackedForwardImpl(qkv, out, lse, scale, causal);
    }

    /** dqkv [B,T,3,H,D] ← the gradient of {@link #attentionPackedForward} given dout and its out and lse. */
    public final void attentionPackedBackward(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, float scale, boolean causal) {
        String op = "attentionPackedBackward";
        checkAttentionPacked(op, qkv, out, lse);
        own(op, "dout", dout); own(op, "dqkv", dqkv);
        shape(op, "dout", dout, out.shape()); shape(op, "dqkv", dqkv, qkv.shape());
        attentionPackedBackwardImpl(qkv, out, lse, dout, dqkv, scale, causal);
    }

    private void checkAttentionPacked(String op, Tensor qkv, Tensor out, Tensor lse) {
        own(op, "qkv", qkv); own(op, "out", out); own(op, "lse", lse);
        rank(op, "qkv", qkv, 5);
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        shape(op, "qkv", qkv, b, t, 3, h, d);
        shape(op, "out", out, b, t, h, d);
        shape(op, "lse", lse, b, h, t);
    }

    // Packed attention by the unpacked op: qkv [B,T,3,H,D] permuted to [3,B,H,T,D] and sliced, into temporaries this
    // call allocates and frees before it returns. A backend overrides these to read the packed rows in place.
    private static final int[] UNPACK = {2, 0, 3, 1, 4}, PACK = {1, 3, 0, 2, 4}, HEADS_FIRST = {0, 2, 1, 3};

    protected void attentionPackedForwardImpl(Tensor qkv, Tensor out, Tensor lse, float scale, boolean causal) {
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        try (Tensor split = empty(3, b, h, t, d); Tensor q = empty(1, b, h, t, d); Tensor k = empty(1, b, h, t, d);
             Tensor v = empty(1, b, h, t, d); Tensor o = empty(b, h, t, d)) {
            permute(qkv, split, UNPACK);
            slice(split, 0, 0, q); slice(split, 0, 1, k); slice(split, 0, 2, v);
            attentionForward(q.reshape(b, h, t, d), k.reshape(b, h, t, d), v.reshape(b, h, t, d), o, lse, scale, causal);
            permute(o, out, HEADS_FIRST);
        }
    }

    protected void attentionPackedBackwardImpl(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, float scale, boolean causal) {
        int b = qkv.dim(0), t = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        try (Tensor split = empty(3, b, h, t, d); Tensor q = empty(1, b, h, t, d); Tensor k = empty(1, b, h, t, d);
             Tensor v = empty(1, b, h, t, d); Tensor o = empty(b, h, t, d); Tensor dO = empty(b, h, t, d);
             Tensor dq = empty(1, b, h, t, d); Tensor dk = empty(1, b, h, t, d); Tensor dv = empty(1, b, h, t, d)) {
            permute(qkv, split, UNPACK);
            slice(split, 0, 0, q); slice(split, 0, 1, k); slice(split, 0, 2, v);
            permute(out, o, HEADS_FIRST); permute(dout, dO, HEADS_FIRST);
            attentionBackward(q.reshape(b, h, t, d), k.reshape(b, h, t, d), v.reshape(b, h, t, d), o, lse, dO,
                    dq.reshape(b, h, t, d), dk.reshape(b, h, t, d), dv.reshape(b, h, t, d), scale, causal);
            insertSlice(dq, 0, 0, split); insertSlice(dk, 0, 1, split); insertSlice(dv, 0, 2, split);
            permute(split, dqkv, PACK);
        }
    }

    // ---------------------------------------------------------------- element-wise

    /** out ← a + b, where b has a's shape or a trailing part of it (a bias broadcast over the leading axes). */
    public final void add(Tensor a, Tensor b, Tensor out) {
        checkBroadcast("add", a, b, out);
        binaryImpl(Binary.ADD, a, b, out);
    }

    /** out ← a ⊙ b, with b broadcast as in {@link #add}. */
    public final void mul(Tensor a, Tensor b, Tensor out) {
        checkBroadcast("mul", a, b, out);
        binaryImpl(Binary.MUL, a, b, out);
    }

    /** out ← a / b, with b broadcast as in {@link #add} (IEEE division: b = 0 gives ±inf or NaN). */
    public final void div(Tensor a, Tensor b, Tensor out) {
        checkBroadcast("div", a, b, out);
        binaryImpl(Binary.DIV, a, b, out);
    }

    /** out ← alpha·x; out may be x. */
    public final void scale(Tensor x, float alpha, Tensor out) {
        own("scale", "x", x); own("scale", "out", out);
        shape("scale", "out", out, x.shape());
        scaleImpl(x, alpha, out);
    }

    /** y ← y + alpha·x (gradient accumulation). */
    public final void axpy(float alpha, Tensor x, Tensor y) {
        own("axpy", "x", x); own("axpy", "y", y);
        shape("axpy", "y", y, x.shape());
        axpyImpl(alpha, x, y);
    }

    /** out ← x summed over the given axes (which are removed from the shape). */
    public final void sum(Tensor x, Tensor out, int... axes) {
        String op = "sum";
        own(op, "x", x); own(op, "out", out);
        boolean[] reduce = new boolean[x.rank()];
        for (int ax : axes) {
            int a = ax < 0 ? ax + x.rank() : ax;
            if (a < 0 || a >= x.rank()) throw new IllegalArgumentException(op + ": axis " + ax + " out of range for x " + Shape.str(x.shape()));
            if (reduce[a]) throw new IllegalArgumentException(op + ": axis " + ax + " given twice");
            reduce[a] = true;
        }
        int[] xs = x.shape();
        int kept = 0;
        for (boolean r : reduce) if (!r) kept++;
        int[] expect = new int[kept];
        for (int i = 0, j = 0; i < xs.length; i++) if (!reduce[i]) expect[j++] = xs[i];
        shape(op, "out", out, expect);
        sumImpl(x, reduce, out);
    }

    private void checkBroadcast(String op, Tensor a, Tensor b, Tensor out) {
        own(op, "a", a); own(op, "b", b); own(op, "out", out);
        shape(op, "out", out, a.shape());
        int ra = a.rank(), rb = b.rank();
        boolean ok = rb <= ra;
        for (int i = 1; ok && i <= rb; i++) ok = a.dim(-i) == b.dim(-i);
        if (!ok) throw new IllegalArgumentException(op + ": b " + Shape.str(b.shape()) + " must equal a " + Shape.str(a.shape()) + " or its trailing dimensions");
    }

    public enum Binary { ADD, MUL, DIV }

    /** b.numel() divides a.numel(); element i of a pairs with element i mod b.numel() of b. */
    protected abstract void binaryImpl(Binary kind, Tensor a, Tensor b, Tensor out);
    protected abstract void scaleImpl(Tensor x, float alpha, Tensor out);
    protected abstract void axpyImpl(float alpha, Tensor x, Tensor y);
    protected abstract void sumImpl(Tensor x, boolean[] reduce, Tensor out);

    // ---------------------------------------------------------------- layout

    /** out ← x with its axes reordered: out axis i is x axis perm[i]. */
    public final void permute(Tensor x, Tensor out, int... perm) {
        String op = "permute";
        own(op, "x", x); own(op, "out", out);
        if (perm.length != x.rank()) throw new IllegalArgumentException(op + ": perm " + java.util.Arrays.toString(perm) + " has " + perm.length + " axes, x " + Shape.str(x.shape()) + " has " + x.rank());
        boolean[] seen = new boolean[perm.length];
        int[] expect = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] < 0 || perm[i] >= perm.length || seen[perm[i]])
                throw new IllegalArgumentException(op + ": perm " + java.util.Arrays.toString(perm) + " is not a permutation of 0.." + (perm.length - 1));
            seen[perm[i]] = true;
            expect[i] = x.dim(perm[i]);
        }
        shape(op, "out", out, expect);
        permuteImpl(x, out, perm);
    }

    /** out ← the inputs joined along {@code axis}. */
    public final void concat(List<Tensor> inputs, int axis, Tensor out) {
        String op = "concat";
        if (inputs.isEmpty()) throw new IllegalArgumentException(op + ": no inputs");
        own(op, "out", out);
        int ax = axis(op, out, axis);
        int total = 0;
        for (int i = 0; i < inputs.size(); i++) {
            Tensor t = inputs.get(i);
            own(op, "inputs[" + i + "]", t);
            if (t.rank() != out.rank()) throw new IllegalArgumentException(op + ": inputs[" + i + "] " + Shape.str(t.shape()) + " has rank " + t.rank() + ", out " + Shape.str(out.shape()) + " has " + out.rank());
            for (int d = 0; d < out.rank(); d++)
                if (d != ax && t.dim(d) != out.dim(d))
                    throw new IllegalArgumentException(op + ": inputs[" + i + "] " + Shape.str(t.shape()) + " differs from out " + Shape.str(out.shape()) + " in axis " + d);
            total += t.dim(ax);
        }
        if (total != out.dim(ax)) throw new IllegalArgumentException(op + ": inputs add up to " + total + " along axis " + ax + ", out has " + out.dim(ax));
        int start = 0;
        for (Tensor t : inputs) {
            insertSliceImpl(t, ax, start, out);
            start += t.dim(ax);
        }
    }

    /** out ← x[.., start : start + out.dim(axis), ..] along {@code axis}. */
    public final void slice(Tensor x, int axis, int start, Tensor out) {
        int ax = checkSlice("slice", out, x, axis, start);
        sliceImpl(x, ax, start, out);
    }

    /** dst[.., start : start + src.dim(axis), ..] ← src; the rest of dst is left as it is (the backward of slice). */
    public final void insertSlice(Tensor src, int axis, int start, Tensor dst) {
        int ax = checkSlice("insertSlice", src, dst, axis, start);
        insertSliceImpl(src, ax, start, dst);
    }

    private int checkSlice(String op, Tensor part, Tensor whole, int axis, int start) {
        own(op, "part", part); own(op, "whole", whole);
        int ax = axis(op, whole, axis);
        if (part.rank() != whole.rank()) throw new IllegalArgumentException(op + ": ranks differ: " + Shape.str(part.shape()) + " vs " + Shape.str(whole.shape()));
        for (int d = 0; d < whole.rank(); d++)
            if (d != ax && part.dim(d) != whole.dim(d))
                throw new IllegalArgumentException(op + ": " + Shape.str(part.shape()) + " and " + Shape.str(whole.shape()) + " differ in axis " + d + " (slicing axis " + ax + ")");
        if (start < 0 || start + part.dim(ax) > whole.dim(ax))
            throw new IllegalArgumentException(op + ": range [" + start + ", " + (start + part.dim(ax)) + ") is outside axis " + ax + " of size " + whole.dim(ax));
        return ax;
    }

    /** out[i, :] ← table[idx[i], :]; table [V, D], idx [N] (indices as floats), out [N, D]. */
    public final void gather(Tensor table, Tensor idx, Tensor out) {
        String op = "gather";
        checkRows(op, table, idx, out);
        gatherImpl(table, idx, out);
    }

    /** table[idx[i], :] += src[i, :] (the backward of gather; repeated indices accumulate). */
    public final void scatterAdd(Tensor src, Tensor idx, Tensor table) {
        String op = "scatterAdd";
        checkRows(op, table, idx, src);
        scatterAddImpl(src, idx, table);
    }

    private void checkRows(String op, Tensor table, Tensor idx, Tensor rows) {
        own(op, "table", table); own(op, "idx", idx); own(op, "rows", rows);
        rank(op, "table", table, 2); rank(op, "idx", idx, 1);
        shape(op, "rows", rows, idx.dim(0), table.dim(1));
    }

    protected abstract void permuteImpl(Tensor x, Tensor out, int[] perm);
    protected abstract void sliceImpl(Tensor x, int axis, int start, Tensor out);
    protected abstract void insertSliceImpl(Tensor src, int axis, int start, Tensor dst);
    /** Implementations must reject an index outside [0, V) with an IllegalArgumentException naming its position. */
    protected abstract void gatherImpl(Tensor table, Tensor idx, Tensor out);
    protected abstract void scatterAddImpl(Tensor src, Tensor idx, Tensor table);

    // ---------------------------------------------------------------- optimizer steps

    /**
     * SGD as PyTorch defines it (dampening 0): g ← grad + wd·p; with momentum, buf ← μ·buf + g (buf ← g on the
     * first step, which a zero buffer gives) and g ← g + μ·buf (Nesterov) or buf; then p ← p − lr·g.
     * {@code velocity} may be null when momentum is 0.
     */
    public final void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, boolean nesterov) {
        String op = "sgdStep";
        own(op, "param", param); own(op, "grad", grad);
        shape(op, "grad", grad, param.shape());
        if (momentum != 0) {
            if (velocity == null) throw new IllegalArgumentException(op + ": momentum " + momentum + " needs a velocity tensor");
            own(op, "velocity", velocity); shape(op, "velocity", velocity, param.shape());
        }
        if (nesterov && momentum == 0) throw new IllegalArgumentException(op + ": Nesterov needs momentum > 0");
        sgdStepImpl(param, grad, velocity, lr, momentum, weightDecay, nesterov);
    }

    /**
     * AdamW as PyTorch defines it: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
     * p ← p − lr·(m/(1−β1^t)) / (√(v/(1−β2^t)) + eps). {@code step} t counts from 1.
     */
    public final void adamWStep(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                                float lr, float beta1, float beta2, float eps, float weightDecay) {
        String op = "adamWStep";
        own(op, "param", param); own(op, "grad", grad); own(op, "m", m); own(op, "v", v);
        shape(op, "grad", grad, param.shape()); shape(op, "m", m, param.shape()); shape(op, "v", v, param.shape());
        if (step < 1) throw new IllegalArgumentException(op + ": step counts from 1, got " + step);
        adamWStepImpl(param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay);
    }

    protected abstract void sgdStepImpl(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, boolean nesterov);
    protected abstract void adamWStepImpl(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                                          float lr, float beta1, float beta2, float eps, float weightDecay);

    // ---------------------------------------------------------------- argument checks

    /** The tensor must be open and belong to this backend (or share its storage kind). */
    protected void own(String op, String arg, Tensor t) {
        if (t == null) throw new IllegalArgumentException(op + ": " + arg + " is null");
        if (t.isClosed()) throw new IllegalArgumentException(op + ": " + arg + " " + Shape.str(t.shape()) + " was already closed");
        if (!accepts(t)) throw new IllegalArgumentException(op + ": " + arg + (t.backend().name().equals(name())
                ? " lives on another instance of backend '" + name() + "' (tensors cannot move between backend instances)"
                : " lives on backend '" + t.backend().name() + "', not on '" + name() + "'"));
    }

    /** Whether this backend can read and write the tensor's storage directly. */
    protected boolean accepts(Tensor t) { return t.backend() == this; }

    private static void rank(String op, String arg, Tensor t, int r) {
        if (t.rank() != r) throw new IllegalArgumentException(op + ": " + arg + ": expected rank " + r + ", got " + Shape.str(t.shape()));
    }

    private static void rankIn(String op, String arg, Tensor t, int lo, int hi) {
        if (t.rank() < lo || t.rank() > hi)
            throw new IllegalArgumentException(op + ": " + arg + ": expected rank " + lo + ".." + hi + ", got " + Shape.str(t.shape()));
    }

    private static void shape(String op, String arg, Tensor t, int... expected) {
        if (!t.hasShape(expected))
            throw new IllegalArgumentException(op + ": " + arg + ": expected shape " + Shape.str(expected) + ", got " + Shape.str(t.shape()));
    }

    private static void sameCount(String op, String arg, Tensor t, Tensor ref) {
        if (t.numel() != ref.numel())
            throw new IllegalArgumentException(op + ": " + arg + " " + Shape.str(t.shape()) + " has " + t.numel() + " elements, expected " + ref.numel() + " like " + Shape.str(ref.shape()));
    }

    private static int axis(String op, Tensor t, int axis) {
        int a = axis < 0 ? axis + t.rank() : axis;
        if (a < 0 || a >= t.rank()) throw new IllegalArgumentException(op + ": axis " + axis + " out of range for " + Shape.str(t.shape()));
        return a;
    }
}
