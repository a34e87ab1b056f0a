package dev.fovea.nn;

import dev.fovea.autograd.AttentionRecorder;
import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/**
 * Multi-head cross-attention (the Transformer decoder's "encoder-decoder attention"): queries from x [B, T, D],
 * keys and values from the encoder's tokens m [B, M, D]; no mask. x [B, T, D] → [B, T, D].
 */
public final class CrossAttention extends Module {
    public final Linear q, kv, proj;
    private final int heads;

    public CrossAttention(Backend be, Init init, int dim, int heads) {
        if (dim % heads != 0) throw new IllegalArgumentException("cross-attention: width " + dim + " is not divisible by " + heads + " heads");
        this.heads = heads;
        q = child("q", Linear.timm(be, init, dim, dim, true));
        kv = child("kv", Linear.timm(be, init, dim, 2 * dim, true));
        proj = child("proj", Linear.timm(be, init, dim, dim, true));
    }

    /** With a cache (decoding), the memory's keys and values are projected once and reused at every step. */
    public Var forward(Tape t, Var x, Var memory, KvCache cache) {
        int b = x.dim(0), n = x.dim(1), d = x.dim(2), dh = d / heads;
        if (memory.dim(0) != b || memory.dim(2) != d)
            throw new IllegalArgumentException("cross-attention: memory [B, M, " + d + "] for a batch of " + b + ", got " + dev.fovea.tensor.Shape.str(memory.shape()));
        Var qh = t.permute(t.reshape(q.forward(t, x), b, n, heads, dh), 0, 2, 1, 3);      // [B, H, T, Dh]
        Var k, v;
        if (cache != null && !cache.isEmpty()) {
            k = t.constantView(cache.keys());
            v = t.constantView(cache.values());
        } else {
            int m = memory.dim(1);
            Var split = t.permute(t.reshape(kv.forward(t, memory), b, m, 2, heads, dh), 2, 0, 3, 1, 4);   // [2, B, H, M, Dh]
            k = t.reshape(t.slice(split, 0, 0, 1), b, heads, m, dh);
            v = t.reshape(t.slice(split, 0, 1, 1), b, heads, m, dh);
            if (cache != null) cache.append(k.value(), v.value());
        }
        Var kk = k, vv = v;
        Var o = AttentionRecorder.at("cross", () -> t.attention(qh, kk, vv, (float) (1 / Math.sqrt(dh)), false));
        return proj.forward(t, t.reshape(t.permute(o, 0, 2, 1, 3), b, n, d));
    }
}
