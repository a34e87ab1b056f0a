package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;

/** A module that maps one tensor to one: the layers, and the image models that classify or encode. */
public abstract class Layer extends Module {
    /** y = layer(x), recorded on the tape. */
    public abstract Var forward(Tape t, Var x);
}
