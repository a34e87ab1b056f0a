package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;

/**
 * P×P patches embedded linearly, as timm's {@code PatchEmbed}: a P×P convolution with stride P (its parameters, as
 * timm names them), computed as a linear layer on the patches. [B,C,H,W] → [B, N, D].
 */
public final class PatchEmbed extends Layer {
    public final Conv2d proj;
    private final int patch;

    public PatchEmbed(Backend be, Init init, int inChans, int dim, int patch) {
        this.patch = patch;
        proj = child("proj", new Conv2d(be, init, inChans, dim, patch, Conv2dSpec.of(0, patch)));
    }

    @Override public Var forward(Tape t, Var x) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), p = patch, d = proj.weight.dim(0);
        if (h % p != 0 || w % p != 0)
            throw new IllegalArgumentException("patch embedding: image " + h + "x" + w + " is not a multiple of the patch size " + p);
        // the stride-P convolution as one matrix product: each patch's C·P·P pixels (channel, row, column: the
        // kernel's layout) against the kernel as [D, C·P·P]; no im2col, and the output is already [B, N, D]
        Var patches = t.reshape(t.permute(t.reshape(x, b, c, h / p, p, w / p, p), 0, 2, 4, 1, 3, 5), b, (h / p) * (w / p), c * p * p);
        return t.linear(patches, t.reshape(proj.weight, d, c * p * p), proj.bias);   // [B, N, D]
    }
}
