package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Pool2dSpec;

/** Max or average pooling, as torch.nn.MaxPool2d / AvgPool2d (floor mode; average counts padding). */
public final class Pool2d extends Layer {
    private final Pool2dSpec spec;

    public Pool2d(Pool2dSpec spec) { this.spec = spec; }

    public static Pool2d max(int k, int stride) { return new Pool2d(Pool2dSpec.max(k, stride, 0)); }
    public static Pool2d avg(int k, int stride) { return new Pool2d(Pool2dSpec.avg(k, stride, 0)); }

    public Pool2dSpec spec() { return spec; }

    @Override public Var forward(Tape t, Var x) { return t.pool2d(spec, x); }
}
