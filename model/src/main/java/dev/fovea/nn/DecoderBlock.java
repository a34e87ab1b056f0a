package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/**
 * A pre-norm Transformer decoder block (Vaswani et al. 2017, with the norms first as GPT-2 and timm place them):
 * x + causal self-attention(norm1(x)), then x + cross-attention(norm2(x), encoder tokens), then x + mlp(norm3(x)).
 */
public final class DecoderBlock extends Module {
    public final LayerNorm norm1, norm2, norm3;
    public final Attention attn;
    public final CrossAttention cross;
    public final Mlp mlp;

    public DecoderBlock(Backend be, Init init, int dim, int heads, float mlpRatio, float eps) {
        norm1 = child("norm1", new LayerNorm(be, init, dim, eps));
        attn = child("attn", new Attention(be, init, dim, heads, true, true));
        norm2 = child("norm2", new LayerNorm(be, init, dim, eps));
        cross = child("cross", new CrossAttention(be, init, dim, heads));
        norm3 = child("norm3", new LayerNorm(be, init, dim, eps));
        mlp = child("mlp", new Mlp(be, init, dim, (int) (dim * mlpRatio), Act.Kind.GELU));
    }

    @Override public Var forward(Tape t, Var x) { throw new UnsupportedOperationException("a decoder block needs the encoder's tokens: forward(t, x, memory, null, null)"); }

    /** x [B, T, D], memory [B, M, D]; the caches (both or neither) for step-by-step decoding. */
    public Var forward(Tape t, Var x, Var memory, KvCache self, KvCache crossCache) {
        x = t.add(x, attn.forward(t, norm1.forward(t, x), self));
        x = t.add(x, cross.forward(t, norm2.forward(t, x), memory, crossCache));
        return t.add(x, mlp.forward(t, norm3.forward(t, x)));
    }
}
