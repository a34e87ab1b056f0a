package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.backend.Pool2dSpec;

/**
 * LeNet-5's subsampling layers S2 and S4: each map's 2×2 average times a trainable coefficient plus a trainable
 * bias (the paper sums the four inputs; the average is the same up to the coefficient). The per-map affine is a
 * depthwise 1×1 convolution, so it needs no op of its own: weight [C,1,1,1], bias [C].
 */
public final class Subsampling extends Layer {
    public final Var weight, bias;
    private final Pool2dSpec pool = Pool2dSpec.avg(2, 2, 0);
    private final Conv2dSpec affine;

    public Subsampling(Backend be, Init init, int channels) {
        weight = param("weight", init.constant(be, 1f, channels, 1, 1, 1));
        bias = param("bias", init.constant(be, 0f, channels));
        affine = Conv2dSpec.of(0, 1).withGroups(channels);
    }

    @Override public Var forward(Tape t, Var x) { return t.conv2d(t.pool2d(pool, x), weight, bias, affine); }
}
