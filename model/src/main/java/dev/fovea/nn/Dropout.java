package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;

import java.util.SplittableRandom;

/** Inverted dropout with its own seeded stream; active only in training mode on a recording tape. */
public final class Dropout extends Layer {
    private final float p;
    private final SplittableRandom rng;

    public Dropout(float p, long seed) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        this.p = p;
        this.rng = new SplittableRandom(seed);
    }

    @Override public Var forward(Tape t, Var x) { return isTraining() ? t.dropout(x, p, rng) : x; }
}
