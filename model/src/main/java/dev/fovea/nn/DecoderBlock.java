package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/**
 * A pre-norm Transformer decoder block (Vaswani et al. 2017, with the norms first as GPT-2 and timm place them):
 * x + causal self-attention(norm1(x)), then x + cross-attention(norm2(x), encoder tokens), then x + mlp(norm3(x)).
 * Without cross-attention (a decoder-only model, GPT-2's block) it is x + attn(norm1(x)), then x + mlp(norm2(x)).
 */
public final class DecoderBlock extends Module {
    public final LayerNorm norm1, crossNorm, mlpNorm;
    public final Attention attn;
    /** Null in a decoder-only block. */
    public final CrossAttention cross;
    public final Mlp mlp;

    public DecoderBlock(Backend be, Init init, int dim, int heads, float mlpRatio, float eps, boolean crossAttention) {
        norm1 = child("norm1", new LayerNorm(be, init, dim, eps));
        attn = child("attn", new Attention(be, init, dim, heads, true, true));
        crossNorm = crossAttention ? child("norm2", new LayerNorm(be, init, dim, eps)) : null;
        cross = crossAttention ? child("cross", new CrossAttention(be, init, dim, heads)) : null;
        mlpNorm = child(crossAttention ? "norm3" : "norm2", new LayerNorm(be, init, dim, eps));
        mlp = child("mlp", new Mlp(be, init, dim, (int) (dim * mlpRatio), Act.Kind.GELU));
    }

    /**
     * x [B, T, D], memory [B, M, D] (null without cross-attention); the caches (both or neither, the cross one unused
     * without cross-attention) for step-by-step decoding.
     */
    public Var forward(Tape t, Var x, Var memory, KvCache self, KvCache crossCache) {
        if ((cross == null) != (memory == null))
            throw new IllegalArgumentException(cross == null ? "a decoder-only block takes no encoder tokens" : "a decoder block with cross-attention needs the encoder's tokens");
        x = t.add(x, attn.forward(t, norm1.forward(t, x), self));
        if (cross != null) x = t.add(x, cross.forward(t, crossNorm.forward(t, x), memory, crossCache));
        return mlp.addTo(t, x, mlpNorm.forward(t, x));
    }
}
