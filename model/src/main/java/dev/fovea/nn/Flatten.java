package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;

/** [N, C, H, W] → [N, C·H·W] in C,H,W order, as torch.flatten(x, 1). */
public final class Flatten extends Layer {
    @Override public Var forward(Tape t, Var x) { return t.flatten(x); }
}
