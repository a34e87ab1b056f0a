package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;

/** A pre-norm transformer encoder block, as timm's {@code Block}: x + attn(norm1(x)), then x + mlp(norm2(x)). */
public final class Block extends Layer {
    public final LayerNorm norm1, norm2;
    public final Attention attn;
    public final Mlp mlp;

    public Block(Backend be, Init init, int dim, int heads, float mlpRatio, boolean qkvBias, float eps, Act.Kind act, boolean causal) {
        norm1 = child("norm1", new LayerNorm(be, init, dim, eps));
        attn = child("attn", new Attention(be, init, dim, heads, qkvBias, causal));
        norm2 = child("norm2", new LayerNorm(be, init, dim, eps));
        mlp = child("mlp", new Mlp(be, init, dim, (int) (dim * mlpRatio), act));
    }

    @Override public Var forward(Tape t, Var x) {
        x = attn.addTo(t, x, norm1.forward(t, x));          // the residual adds go into the output layers' epilogues
        return mlp.addTo(t, x, norm2.forward(t, x));
    }
}
