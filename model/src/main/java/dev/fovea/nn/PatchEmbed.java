package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;

/** P×P patches embedded linearly, as timm's {@code PatchEmbed}: a P×P convolution with stride P. [B,C,H,W] → [B, N, D]. */
public final class PatchEmbed extends Module {
    public final Conv2d proj;
    private final int patch;

    public PatchEmbed(Backend be, Init init, int inChans, int dim, int patch) {
        this.patch = patch;
        proj = child("proj", new Conv2d(be, init, inChans, dim, patch, Conv2dSpec.of(0, patch)));
    }

    @Override public Var forward(Tape t, Var x) {
        if (x.dim(2) % patch != 0 || x.dim(3) % patch != 0)
            throw new IllegalArgumentException("patch embedding: image " + x.dim(2) + "x" + x.dim(3) + " is not a multiple of the patch size " + patch);
        Var y = proj.forward(t, x);                                   // [B, D, H/P, W/P]
        int b = y.dim(0), d = y.dim(1), n = y.dim(2) * y.dim(3);
        return t.permute(t.reshape(y, b, d, n), 0, 2, 1);              // [B, N, D]
    }
}
