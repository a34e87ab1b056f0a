package dev.fovea.nn;

import dev.fovea.autograd.Var;
import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A layer or a model: parameters and child modules under PyTorch-style dotted names ("c1.weight", "blocks.0.attn").
 * A module owns its parameters and frees them on {@link #close()}. What it computes is its own: one tensor to one
 * for a {@link Layer}; tokens and the encoder's memory for a decoder.
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Var> params = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    protected final Var param(String name, Tensor value) {
        Var v = Var.parameter(value);
        if (params.putIfAbsent(name, v) != null) throw new IllegalStateException("parameter '" + name + "' declared twice");
        return v;
    }

    protected final <M extends Module> M child(String name, M m) {
        if (children.putIfAbsent(name, m) != null) throw new IllegalStateException("module '" + name + "' declared twice");
        return m;
    }

    /**
     * Adds {@code m} under {@code name}: a head an objective brings to a model (masked pretraining's decoder), whose
     * parameters then train and save with the model's.
     */
    public final <M extends Module> M attach(String name, M m) { return child(name, m); }

    /** Puts m in place of the child called {@code name}, freeing the old one (a new classification head). */
    protected final <M extends Module> M replaceChild(String name, M m) {
        Module old = children.get(name);
        if (old == null) throw new IllegalStateException("no module '" + name + "' to replace");
        children.put(name, m);
        old.close();
        return m;
    }

    /** Removes and frees the child called {@code name}. */
    protected final void removeChild(String name) {
        Module old = children.remove(name);
        if (old == null) throw new IllegalStateException("no module '" + name + "' to remove");
        old.close();
    }

    /** Every parameter in declaration order under its dotted name. */
    public final Map<String, Var> namedParameters() {
        Map<String, Var> out = new LinkedHashMap<>();
        collect("", out);
        return Collections.unmodifiableMap(out);
    }

    private void collect(String prefix, Map<String, Var> out) {
        params.forEach((n, v) -> out.put(prefix + n, v));
        children.forEach((n, m) -> m.collect(prefix + n + ".", out));
    }

    public final List<Var> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Trainable scalars: every element of every parameter, less those a layer masks out (a connection table). */
    public long parameterCount() {
        long n = 0;
        for (Var v : params.values()) n += v.value().numel();
        for (Module m : children.values()) n += m.parameterCount();
        return n;
    }

    public final void zeroGrad() { for (Var v : parameters()) v.zeroGrad(); }

    /** Training mode (dropout active) or evaluation mode, for this module and all below it. */
    public final void train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
    }

    public final boolean isTraining() { return training; }

    @Override public void close() {
        for (Var v : params.values()) v.release();
        for (Module m : children.values()) m.close();
    }
}
