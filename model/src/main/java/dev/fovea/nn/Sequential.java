package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;

import java.util.ArrayList;
import java.util.List;

/** Modules applied in order; parameters named by each child's name. */
public final class Sequential extends Module {
    private final List<Module> layers = new ArrayList<>();

    public Sequential add(String name, Module m) {
        layers.add(child(name, m));
        return this;
    }

    @Override public Var forward(Tape t, Var x) {
        for (Module m : layers) x = m.forward(t, x);
        return x;
    }
}
