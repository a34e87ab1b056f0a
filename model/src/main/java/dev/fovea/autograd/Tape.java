package dev.fovea.autograd;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Epilogue;
import dev.fovea.backend.Pool2dSpec;
import dev.fovea.tensor.Shape;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Records ops for reverse-mode autodiff and owns every temporary they make. Each op computes its forward with the
 * backend now and pushes its backward (a closure over what it saved) for {@link #backward}; closing the tape frees
 * all values, saved tensors and non-parameter gradients at once. Use one tape per step, in try-with-resources.
 *
 * <p>Every op is a forward/backward pair written against {@link Backend}; a gradient is overwritten by its first
 * contribution in a step and added to by the next ones, so nothing is zero-filled needlessly.
 */
public final class Tape implements AutoCloseable {
    private final Backend be;
    private final boolean recording;
    private final List<Runnable> backwards = new ArrayList<>();
    private final List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private Tape(Backend be, boolean recording) {
        this.be = be;
        this.recording = recording;
    }

    /** A tape that records for backward. */
    public static Tape training(Backend be) { return new Tape(be, true); }

    /** A tape that records nothing: forward only, no gradients (evaluation, prediction). */
    public static Tape inference(Backend be) { return new Tape(be, false); }

    public Backend backend() { return be; }
    public boolean recording() { return recording; }

    /** A new tensor freed with the tape; its contents are unspecified (ops overwrite their outputs). */
    public Tensor alloc(int... shape) {
        if (closed) throw new IllegalStateException("tape is closed");
        Tensor t = be.empty(shape);
        owned.add(t);
        return t;
    }

    /** Wraps a tensor (input data, labels) that needs no gradient; the tape takes ownership of it. */
    public Var constant(Tensor t) {
        owned.add(t);
        return new Var(t, false, false, this);
    }

    /** Wraps a tensor that someone else owns (a fixed mask, a buffer) and that needs no gradient. */
    public Var constantView(Tensor t) {
        return new Var(t, false, false, this);
    }

    /** Wraps a tensor whose gradient the caller wants (an input image, say); the tape takes ownership of it. */
    public Var leaf(Tensor t) {
        owned.add(t);
        return new Var(t, recording, false, this);
    }

    private Var result(String op, Tensor value, Var... inputs) { return result(op, 0, value, inputs); }

    /** An op's output Var; {@code flops} is what its forward computed (products only; 0 for the others), for the profile. */
    private Var result(String op, long flops, Tensor value, Var... inputs) {
        String key = profile == null ? null : profileKey(op, value, inputs);
        if (profile != null) profile.lap(key + " forward", flops);
        boolean rg = false;
        if (recording) for (Var v : inputs) rg |= v != null && v.requiresGrad();
        if (recording && gradReady != null)
            for (Var v : inputs)                           // this op's backward, the next one pushed, is v's last in reverse
                if (v != null && v.isParameter() && v.requiresGrad() && firstUse.putIfAbsent(v, backwards.size()) == null) used.add(v);
        Var out = new Var(value, rg, false, this);
        out.profileKey = key;
        return out;
    }

    /**
     * The profile's name for an op: its output shape, after its first input's where the two differ, so that layers
     * with one output shape (a ViT's proj and fc2) get a line each.
     */
    private static String profileKey(String op, Tensor value, Var... inputs) {
        Var in = inputs.length > 0 ? inputs[0] : null;
        String from = in == null || java.util.Arrays.equals(in.shape(), value.shape()) ? "" : Shape.str(in.shape()) + " → ";
        return op + " " + from + Shape.str(value.shape());
    }

    private java.util.function.Consumer<Var> gradReady;
    private final java.util.Map<Var, Integer> firstUse = new java.util.IdentityHashMap<>();
    private final List<Var> used = new ArrayList<>();                 // the same parameters, in the order first read

    /**
     * Calls {@code hook} during {@link #backward} for each parameter the recorded ops read, as soon as its gradient is
     * complete (after the backward of the first op that read it, the last to contribute), in the order backward
     * completes them: what lets a data-parallel step start summing gradients while backward goes on. Set it before the
     * ops are recorded; a parameter that backward did not reach (its gradient null) is still reported.
     */
    public Tape onGradientReady(java.util.function.Consumer<Var> hook) {
        if (!backwards.isEmpty()) throw new IllegalStateException("onGradientReady: set it before any op is recorded");
        this.gradReady = hook;
        return this;
    }

    private void onBackward(String op, Var out, Runnable body) { onBackward(op, 0, out, body); }

    private void onBackward(String op, long flops, Var out, Runnable body) {
        if (!out.requiresGrad()) return;
        if (profile == null) backwards.add(() -> { if (out.gradValid) body.run(); });
        else {
            String key = (out.profileKey != null ? out.profileKey : op + " " + Shape.str(out.shape())) + " backward";
            backwards.add(() -> {
                if (!out.gradValid) return;
                profile.lap(null, 0);
                body.run();
                profile.lap(key, flops);
            });
        }
    }

    /**
     * Wall time per op and direction, summed over every tape that shares it (a profile of training steps). Forward
     * time is measured from the previous op's end, so it includes the output's allocation. The products (linear,
     * convolution, attention) also count the floating-point operations they computed: 2 per multiply-add, the
     * attention backward's recomputed scores included, a causal mask's hidden pairs not.
     */
    public static final class Profile {
        private final java.util.Map<String, long[]> totals = new java.util.LinkedHashMap<>();
        private long mark = System.nanoTime();

        void lap(String key, long flops) {
            long now = System.nanoTime();
            if (key != null) {
                long[] t = totals.computeIfAbsent(key, k -> new long[3]);
                t[0] += now - mark;
                t[1]++;
                t[2] += flops;
            }
            mark = now;
        }

        /** Restarts the forward clock (call before a step's first op). */
        public void start() { mark = System.nanoTime(); }

        /** op → {total ns, calls, total flops}. */
        public java.util.Map<String, long[]> totals() { return totals; }
    }

    private Profile profile;

    /** Records per-op timings into p from now on. */
    public Tape profile(Profile p) {
        this.profile = p;
        if (p != null) p.start();
        return this;
    }

    /** Writes a gradient contribution into v: directly into its buffer the first time in a step, else through a temporary. */
    private void accumulate(Var v, GradWriter w) {
        if (v == null || !v.requiresGrad()) return;
        if (v.grad == null) {
            if (v.isParameter()) v.grad = be.zeros(v.shape());
            else v.grad = alloc(v.shape());
        }
        if (!v.gradValid) {
            w.write(v.grad, false);
            v.gradValid = true;
        } else if (w.canAdd()) {
            w.write(v.grad, true);
        } else {
            try (Tensor t = be.empty(v.shape())) {
                w.write(t, false);
                be.axpy(1f, t, v.grad);
            }
        }
    }

    /**
     * Makes v's gradient a view of g when v has none yet this step: for ops whose input gradient equals their output
     * gradient (reshape, an addend), which then costs no copy. Safe because an output's gradient is complete when
     * its op's backward runs and nobody reads it afterwards. Returns false when v needs an ordinary accumulate.
     */
    private boolean alias(Var v, Tensor g) {
        if (v == null || !v.requiresGrad() || v.isParameter() || v.grad != null || v.gradValid) return false;
        v.grad = g.reshape(v.shape());
        v.gradValid = true;
        return true;
    }

    /** Writes a gradient into dst, overwriting it, or adding to it when {@link #canAdd} says it can. */
    @FunctionalInterface
    private interface GradWriter {
        void write(Tensor dst, boolean add);
        default boolean canAdd() { return false; }
    }

    /**
     * Adds a gradient that already exists as a tensor (an output's gradient passed through, or one computed into a
     * buffer of its own) to v's: a copy when v has none yet this step, else one pass that adds it, instead of a copy
     * into a temporary and then the add.
     */
    private void accumulateTensor(Var v, Tensor g) {
        accumulate(v, additive((dst, add) -> {
            if (add) be.axpy(1f, g, dst);
            else be.copy(g, dst);
        }));
    }

    private static GradWriter additive(GradWriter w) {
        return new GradWriter() {
            @Override public void write(Tensor dst, boolean add) { w.write(dst, add); }
            @Override public boolean canAdd() { return true; }
        };
    }

    /** Runs the recorded backwards in reverse from a one-element loss, whose gradient is 1. */
    void backward(Var loss) {
        if (!recording) throw new IllegalStateException("backward: this tape was opened for inference");
        if (loss.value().numel() != 1)
            throw new IllegalArgumentException("backward: the loss must have one element, got " + Shape.str(loss.shape()));
        if (!loss.requiresGrad()) throw new IllegalStateException("backward: the loss does not depend on anything that needs a gradient");
        accumulate(loss, (dst, add) -> be.fill(dst, 1f));
        List<List<Var>> readyAfter = new ArrayList<>();
        if (gradReady != null) {
            for (int i = 0; i < backwards.size(); i++) readyAfter.add(null);
            for (Var v : used) {
                int i = firstUse.get(v);
                if (readyAfter.get(i) == null) readyAfter.set(i, new ArrayList<>());
                readyAfter.get(i).add(v);
            }
        }
        for (int i = backwards.size() - 1; i >= 0; i--) {
            backwards.get(i).run();
            if (gradReady != null && readyAfter.get(i) != null) readyAfter.get(i).forEach(gradReady);
        }
        backwards.clear();
        firstUse.clear();
        used.clear();
    }

    // ---------------------------------------------------------------- ops

    /** y [N,O,OH,OW] = conv(x [N,C,H,W], w [O,C/g,KH,KW]) + b [O] (b may be null). */
    public Var conv2d(Var x, Var w, Var b, Conv2dSpec s) {
        Tensor y = alloc(s.outputShape(x.shape(), w.shape()));
        be.conv2dForward(x.value(), w.value(), b == null ? null : b.value(), y, s);
        // y's every element is a dot product over a C/g×KH×KW window; each backward product costs the same
        long f = 2L * y.numel() * (w.value().numel() / w.dim(0));
        Var out = result("conv2d", f, y, x, w, b);
        onBackward("conv2d", (x.requiresGrad() ? f : 0) + (w.requiresGrad() ? f : 0), out, () -> {
            accumulate(x, (dx, add) -> be.conv2dBackwardData(out.grad, w.value(), dx, s));
            accumulate(w, (dw, add) -> be.conv2dBackwardFilter(x.value(), out.grad, dw, s));
            accumulate(b, (db, add) -> be.conv2dBackwardBias(out.grad, db));
        });
        return out;
    }

    public Var pool2d(Pool2dSpec s, Var x) {
        Tensor y = alloc(s.outputShape(x.shape()));
        be.pool2dForward(s, x.value(), y);
        Var out = result("pool2d", y, x);
        onBackward("pool2d", out, () -> accumulate(x, (dx, add) -> be.pool2dBackward(s, x.value(), y, out.grad, dx)));
        return out;
    }

    public Var activation(Activation f, Var x) {
        Tensor y = alloc(x.shape());
        be.activationForward(f, x.value(), y);
        Var out = result("activation", y, x);
        onBackward("activation", out, () -> accumulate(x, (dx, add) -> be.activationBackward(f, x.value(), y, out.grad, dx)));
        return out;
    }

    /** alpha·x. */
    public Var scale(Var x, float alpha) {
        Tensor y = alloc(x.shape());
        be.scale(x.value(), alpha, y);
        Var out = result("scale", y, x);
        onBackward("scale", out, () -> accumulate(x, (dx, add) -> be.scale(out.grad, alpha, dx)));
        return out;
    }

    /**
     * y [.., out] = x [.., in] · wᵀ + b, with w [out, in] as PyTorch stores it and b [out] (or null).
     * Leading dimensions of x are flattened into rows for the GEMM.
     */
    public Var linear(Var x, Var w, Var b) { return linear(x, w, b, null); }

    /**
     * x·wᵀ + b + residual: a linear layer with the residual connection after it (residual has the output's shape; b
     * and residual may be null). Both go into the GEMM's epilogue, so the backend can add them without a pass over
     * the output each.
     */
    public Var linear(Var x, Var w, Var b, Var residual) {
        int in = w.dim(1), outF = w.dim(0);
        if (x.dim(-1) != in)
            throw new IllegalArgumentException("linear: x " + Shape.str(x.shape()) + " has " + x.dim(-1) + " features, weight " + Shape.str(w.shape()) + " expects " + in);
        int rows = x.value().numel() / in;
        int[] ys = x.shape();
        ys[ys.length - 1] = outF;
        if (residual != null && !java.util.Arrays.equals(residual.shape(), ys))
            throw new IllegalArgumentException("linear: residual " + Shape.str(residual.shape()) + " must have the output's shape " + Shape.str(ys));
        Tensor y = alloc(ys);
        Tensor x2 = x.value().reshape(rows, in), y2 = y.reshape(rows, outF);
        be.gemm(x2, false, w.value(), true, y2, 1f, 0f, new Epilogue(b == null ? null : b.value(),
                residual == null ? null : residual.value().reshape(rows, outF)));
        long f = 2L * rows * in * outF;
        Var out = result("linear", f, y, x, w, b, residual);
        onBackward("linear", (x.requiresGrad() ? f : 0) + (w.requiresGrad() ? f : 0), out, () -> {
            Tensor dy = out.grad.reshape(rows, outF);
            accumulate(x, (dx, add) -> be.gemm(dy, false, w.value(), false, dx.reshape(rows, in), 1f, 0f));
            accumulate(w, additive((dw, add) -> be.gemm(dy, true, x2, false, dw, 1f, add ? 1f : 0f)));
            accumulate(b, (db, add) -> be.sum(dy, db, 0));
            // last: the residual may take out.grad itself as its gradient, which later ops then add into
            if (!alias(residual, out.grad)) accumulateTensor(residual, out.grad);
        });
        return out;
    }

    /** A view of x with another shape; the gradient flows back reshaped. */
    public Var reshape(Var x, int... shape) {
        Var out = result("reshape", x.value().reshape(shape), x);
        onBackward("reshape", out, () -> {
            if (!alias(x, out.grad)) accumulateTensor(x, out.grad);
        });
        return out;
    }

    /** [N, ...] → [N, rest] in C,H,W order. */
    public Var flatten(Var x) {
        return reshape(x, x.dim(0), x.value().numel() / x.dim(0));
    }

    /** a + b, where b has a's shape or a trailing part of it (broadcast over a's leading axes). */
    public Var add(Var a, Var b) {
        Tensor y = alloc(a.shape());
        be.add(a.value(), b.value(), y);
        Var out = result("add", y, a, b);
        onBackward("add", out, () -> {
            if (!alias(a, out.grad)) accumulateTensor(a, out.grad);
            accumulate(b, (db, add) -> reduceTo(out.grad, db));
        });
        return out;
    }

    /** a ⊙ b, with b broadcast as in {@link #add}. */
    public Var mul(Var a, Var b) {
        Tensor y = alloc(a.shape());
        be.mul(a.value(), b.value(), y);
        Var out = result("mul", y, a, b);
        onBackward("mul", out, () -> {
            accumulate(a, (da, add) -> be.mul(out.grad, b.value(), da));
            accumulate(b, (db, add) -> {
                try (Tensor t = be.empty(a.shape())) {
                    be.mul(out.grad, a.value(), t);
                    reduceTo(t, db);
                }
            });
        });
        return out;
    }

    /** a / b, with b broadcast as in {@link #add}. */
    public Var div(Var a, Var b) {
        Tensor y = alloc(a.shape());
        be.div(a.value(), b.value(), y);
        Var out = result("div", y, a, b);
        onBackward("div", out, () -> {
            accumulate(a, (da, add) -> be.div(out.grad, b.value(), da));
            // d(a/b)/db = −(a/b)/b
            accumulate(b, (db, add) -> {
                try (Tensor t = be.empty(a.shape())) {
                    be.mul(out.grad, y, t);
                    be.div(t, b.value(), t);
                    be.scale(t, -1f, t);
                    reduceTo(t, db);
                }
            });
        });
        return out;
    }

    /** The sum of all elements, a one-element Var of shape [1]. */
    public Var sum(Var x) {
        Tensor y = alloc(1);
        be.sum(x.value().reshape(x.value().numel()), y.reshape(), 0);
        Var out = result("sum", y, x);
        onBackward("sum", out, () -> accumulate(x, (dx, add) -> {
            be.fill(dx, 0f);
            be.add(dx, out.grad.reshape(), dx);
        }));
        return out;
    }

    /** x with its axes reordered: out.dim(i) = x.dim(perm[i]). */
    public Var permute(Var x, int... perm) {
        int[] xs = x.shape(), ys = new int[perm.length], inv = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] < 0 || perm[i] >= xs.length) throw new IllegalArgumentException("permute: perm " + java.util.Arrays.toString(perm) + " does not fit x " + Shape.str(xs));
            ys[i] = xs[perm[i]];
            inv[perm[i]] = i;
        }
        Tensor y = alloc(ys);
        be.permute(x.value(), y, perm);
        Var out = result("permute", y, x);
        onBackward("permute", out, () -> accumulate(x, (dx, add) -> be.permute(out.grad, dx, inv)));
        return out;
    }

    /** x[.., start : start + length, ..] along {@code axis}, as a copy. */
    public Var slice(Var x, int axis, int start, int length) {
        int[] ys = x.shape();
        int ax = axis < 0 ? axis + ys.length : axis;
        if (ax < 0 || ax >= ys.length) throw new IllegalArgumentException("slice: axis " + axis + " out of range for x " + Shape.str(x.shape()));
        ys[ax] = length;
        Tensor y = alloc(ys);
        be.slice(x.value(), ax, start, y);
        Var out = result("slice", y, x);
        // the first slice to write zeroes the rest; later ones (q, k, v of one tensor) add into their region only
        onBackward("slice", out, () -> accumulate(x, additive((dx, add) -> {
            if (!add) {
                be.fill(dx, 0f);
                be.insertSlice(out.grad, ax, start, dx);
                return;
            }
            try (Tensor region = be.empty(out.grad.shape())) {
                be.slice(dx, ax, start, region);
                be.axpy(1f, out.grad, region);
                be.insertSlice(region, ax, start, dx);
            }
        })));
        return out;
    }

    /** The inputs joined along {@code axis}. */
    public Var concat(int axis, Var... xs) {
        int[] ys = xs[0].shape();
        int ax = axis < 0 ? axis + ys.length : axis;
        ys[ax] = 0;
        for (Var v : xs) ys[ax] += v.dim(ax);
        Tensor y = alloc(ys);
        List<Tensor> values = new ArrayList<>();
        for (Var v : xs) values.add(v.value());
        be.concat(values, ax, y);
        Var out = result("concat", y, xs);
        onBackward("concat", out, () -> {
            int start = 0;
            for (Var v : xs) {
                final int at = start;
                accumulate(v, (dv, add) -> be.slice(out.grad, ax, at, dv));
                start += v.dim(ax);
            }
        });
        return out;
    }

    /** x [1, ...] repeated n times along its first axis: [n, ...] (a class token for every image of a batch). */
    public Var expand(Var x, int n) {
        if (x.dim(0) != 1) throw new IllegalArgumentException("expand: x " + Shape.str(x.shape()) + " must have a leading 1");
        int[] ys = x.shape();
        ys[0] = n;
        Tensor y = alloc(ys);
        int rest = x.value().numel();
        be.fill(y, 0f);
        be.add(y.reshape(n, rest), x.value().reshape(rest), y.reshape(n, rest));
        Var out = result("expand", y, x);
        onBackward("expand", out, () -> accumulate(x, (dx, add) -> be.sum(out.grad.reshape(n, rest), dx.reshape(rest), 0)));
        return out;
    }

    /** The mean over the first axis: [n, ...] → [...]. */
    public Var meanFirst(Var x) {
        int n = x.dim(0), rest = x.value().numel() / n;
        int[] ys = java.util.Arrays.copyOfRange(x.shape(), 1, x.value().rank());
        Tensor y = alloc(ys);
        be.sum(x.value().reshape(n, rest), y.reshape(rest), 0);
        be.scale(y, 1f / n, y);
        Var out = result("meanFirst", y, x);
        onBackward("meanFirst", out, () -> accumulate(x, (dx, add) -> {
            be.fill(dx, 0f);
            be.add(dx.reshape(n, rest), out.grad.reshape(rest), dx.reshape(n, rest));
            be.scale(dx, 1f / n, dx);
        }));
        return out;
    }

    /**
     * Scaled dot-product attention softmax(scale·q·kᵀ)·v on the fused backend op; q [B,H,T,D], k, v [B,H,S,D] →
     * [B,H,T,D]. Causal: query t sees keys s ≤ t.
     */
    public Var attention(Var q, Var k, Var v, float scale, boolean causal) {
        int[] os = q.shape();
        os[3] = v.dim(3);
        Tensor y = alloc(os), lse = alloc(q.dim(0), q.dim(1), q.dim(2));
        be.attentionForward(q.value(), k.value(), v.value(), y, lse, scale, causal);
        if (AttentionRecorder.recording())
            AttentionRecorder.record(q.value().toArray(), k.value().toArray(), lse, q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3), scale, causal);
        long pairs = attentionPairs(q.dim(0) * q.dim(1), q.dim(2), k.dim(2), causal);
        Var out = result("attention", attentionFlops(pairs, q.dim(3), v.dim(3), false), y, q, k, v);
        onBackward("attention", attentionFlops(pairs, q.dim(3), v.dim(3), true), out, () -> {
            Tensor dq = alloc(q.shape()), dk = alloc(k.shape()), dv = alloc(v.shape());
            be.attentionBackward(q.value(), k.value(), v.value(), y, lse, out.grad, dq, dk, dv, scale, causal);
            accumulateTensor(q, dq);
            accumulateTensor(k, dk);
            accumulateTensor(v, dv);
        });
        return out;
    }

    /**
     * Self-attention on a packed projection: qkv [B,T,3,H,D] (a qkv linear layer's output as a view) → [B,T,H,D],
     * the layout the output projection reads. The same as {@link #attention} on q, k, v split out by a permute and
     * three slices, without copying them.
     */
    public Var attentionPacked(Var qkv, float scale, boolean causal) {
        if (qkv.shape().length != 5) throw new IllegalArgumentException("attentionPacked: qkv must be [B, T, 3, H, D], got " + Shape.str(qkv.shape()));
        int b = qkv.dim(0), n = qkv.dim(1), h = qkv.dim(3), d = qkv.dim(4);
        Tensor y = alloc(b, n, h, d), lse = alloc(b, h, n);
        be.attentionPackedForward(qkv.value(), y, lse, scale, causal);
        if (AttentionRecorder.recording()) {
            float[][] qk = AttentionRecorder.unpack(qkv.value().toArray(), b, n, h, d);
            AttentionRecorder.record(qk[0], qk[1], lse, b, h, n, n, d, scale, causal);
        }
        long pairs = attentionPairs(b * h, n, n, causal);
        Var out = result("attention", attentionFlops(pairs, d, d, false), y, qkv);
        onBackward("attention", attentionFlops(pairs, d, d, true), out, () ->
                accumulate(qkv, (dqkv, add) -> be.attentionPackedBackward(qkv.value(), y, lse, out.grad, dqkv, scale, causal)));
        return out;
    }

    /** (query, key) pairs the attention of {@code slices} (batch × heads) slices computes. */
    private static long attentionPairs(int slices, int t, int s, boolean causal) {
        // causal: query i sees min(s, i + 1) keys, a triangle and then full rows
        int tri = Math.min(t, s);
        long perSlice = causal ? (long) tri * (tri + 1) / 2 + (long) (t - tri) * s : (long) t * s;
        return slices * perSlice;
    }

    /**
     * Forward: scores (D) and P·V (Dv) per pair; backward: the scores recomputed, dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = dS·K
     * and dK = dSᵀ·Q.
     */
    private static long attentionFlops(long pairs, int d, int dv, boolean backward) {
        return 2 * pairs * (backward ? 3L * d + 2L * dv : (long) d + dv);
    }

    /** dst ← src summed over the leading axes that dst (a trailing part of src's shape) lacks. */
    private void reduceTo(Tensor src, Tensor dst) {
        int lead = src.rank() - dst.rank();
        if (lead == 0) { be.copy(src, dst); return; }
        be.sum(src.reshape(src.numel() / dst.numel(), dst.numel()), dst.reshape(dst.numel()), 0);
    }

    /**
     * Rows of {@code table} [V, D] picked by {@code ids} [N] (indices as floats): [N, D] — a token embedding. The
     * backward adds each row's gradient into its table row (repeated ids accumulate).
     */
    public Var embedding(Var table, Var ids) {
        if (table.value().rank() != 2) throw new IllegalArgumentException("embedding: table must be [V, D], got " + Shape.str(table.shape()));
        Tensor y = alloc(ids.dim(0), table.dim(1));
        be.gather(table.value(), ids.value(), y);
        Var out = result("embedding", y, table, ids);
        onBackward("embedding", out, () -> accumulate(table, additive((dt, add) -> {
            if (!add) be.fill(dt, 0f);
            be.scatterAdd(out.grad, ids.value(), dt);
        })));
        return out;
    }

    /**
     * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p), drawing the mask from
     * {@code rng}; the identity on an inference tape or when p is 0.
     */
    public Var dropout(Var x, float p, SplittableRandom rng) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        if (!recording || p == 0) return x;
        float[] mask = new float[x.value().numel()];
        float keep = 1f / (1f - p);
        for (int i = 0; i < mask.length; i++) mask[i] = rng.nextFloat() < p ? 0f : keep;
        Tensor m = be.upload(mask, x.shape());
        owned.add(m);
        return mul(x, new Var(m, false, false, this));
    }

    /** LayerNorm over the last axis with gain g and bias b [D]. */
    public Var layerNorm(Var x, Var g, Var b, float eps) {
        int d = x.dim(-1), rows = x.value().numel() / d;
        Tensor y = alloc(x.shape()), mean = alloc(rows), rstd = alloc(rows);
        be.layerNormForward(x.value(), g.value(), b.value(), eps, y, mean, rstd);
        Var out = result("layerNorm", y, x, g, b);
        onBackward("layerNorm", out, () -> {
            boolean needX = x.requiresGrad(), needG = g.requiresGrad(), needB = b.requiresGrad();
            Tensor dx = alloc(x.shape()), dg = alloc(d), db = alloc(d);
            be.layerNormBackward(out.grad, x.value(), g.value(), mean, rstd, dx, dg, db);
            if (needX) accumulateTensor(x, dx);
            if (needG) accumulateTensor(g, dg);
            if (needB) accumulateTensor(b, db);
        });
        return out;
    }

    /**
     * Mean cross-entropy of log-softmax(logits [N, C]) against class indices {@code labels} [N] (as floats), with
     * optional label smoothing; a one-element Var.
     */
    public Var crossEntropy(Var logits, Var labels, float smoothing) {
        Tensor probs = alloc(logits.shape()), loss = alloc(1);
        be.crossEntropyForward(logits.value(), labels.value(), probs, loss, smoothing);
        Var out = result("crossEntropy", loss, logits);
        onBackward("crossEntropy", out, () -> accumulate(logits, (dl, add) -> be.crossEntropyBackward(probs, labels.value(), out.grad, dl, smoothing)));
        return out;
    }

    /** Frees every tensor this tape made or was given; parameter gradients stay with their parameters. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        for (Tensor t : owned) t.close();
        owned.clear();
        backwards.clear();
    }
}
