package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;

import java.util.ArrayList;
import java.util.List;

/** Layers applied in order; parameters named by each child's name. */
public final class Sequential extends Layer {
    private final List<Layer> layers = new ArrayList<>();

    public Sequential add(String name, Layer m) {
        layers.add(child(name, m));
        return this;
    }

    @Override public Var forward(Tape t, Var x) {
        for (Layer m : layers) x = m.forward(t, x);
        return x;
    }
}
