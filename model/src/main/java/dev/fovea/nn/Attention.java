package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/**
 * Multi-head self-attention as timm's {@code Attention}: one qkv projection [3D, D], heads of D/H, the fused
 * attention op, an output projection. x [B, T, D] → [B, T, D].
 */
public final class Attention extends Layer {
    public final Linear qkv, proj;
    private final int heads;
    private final boolean causal;

    public Attention(Backend be, Init init, int dim, int heads, boolean qkvBias, boolean causal) {
        if (dim % heads != 0) throw new IllegalArgumentException("attention: width " + dim + " is not divisible by " + heads + " heads");
        this.heads = heads;
        this.causal = causal;
        qkv = child("qkv", Linear.timm(be, init, dim, 3 * dim, qkvBias));
        proj = child("proj", Linear.timm(be, init, dim, dim, true));
    }

    @Override public Var forward(Tape t, Var x) { return forward(t, x, null); }

    /**
     * With a cache (decoding, no gradients): an empty cache takes the whole prompt x [B, T, D] (causal as usual) and
     * keeps its keys and values; after that x is one new position [B, 1, D], which attends to every cached position
     * and its own — the same numbers as the whole sequence at once would give at that position.
     */
    public Var forward(Tape t, Var x, KvCache cache) { return forward(t, x, cache, null); }

    /** residual + attention(x), the residual added in the output projection's epilogue. */
    public Var addTo(Tape t, Var residual, Var x) { return forward(t, x, null, residual); }

    private Var forward(Tape t, Var x, KvCache cache, Var residual) {
        int b = x.dim(0), n = x.dim(1), d = x.dim(2), dh = d / heads;
        if (cache != null && !cache.isEmpty() && n != 1)
            throw new IllegalArgumentException("attention: a filled cache takes one new position at a time, got " + n);
        Var qkvOut = t.reshape(qkv.forward(t, x), b, n, 3, heads, dh);        // [B, T, 3, H, Dh]
        float scale = (float) (1 / Math.sqrt(dh));
        if (cache == null)                                                   // reads q, k, v in place
            return proj.forward(t, t.reshape(t.attentionPacked(qkvOut, scale, causal), b, n, d), residual);
        Var split = t.permute(qkvOut, 2, 0, 3, 1, 4);                        // [3, B, H, T, Dh]
        Var q = t.reshape(t.slice(split, 0, 0, 1), b, heads, n, dh);
        Var k = t.reshape(t.slice(split, 0, 1, 1), b, heads, n, dh);
        Var v = t.reshape(t.slice(split, 0, 2, 1), b, heads, n, dh);
        boolean mask = causal, first = cache.isEmpty();
        cache.append(k.value(), v.value());
        if (!first) {                                                        // one query: everything cached is its past
            k = t.constantView(cache.keys());
            v = t.constantView(cache.values());
            mask = false;
        }
        Var o = t.attention(q, k, v, scale, mask);                           // [B, H, T, Dh]
        Var merged = t.reshape(t.permute(o, 0, 2, 1, 3), b, n, d);           // [B, T, D]
        return proj.forward(t, merged, residual);
    }
}
