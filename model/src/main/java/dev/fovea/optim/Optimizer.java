package dev.fovea.optim;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Updates named parameters from their gradients, one fused backend step per tensor. Owns its state tensors
 * (momentum, moments), which {@link #state()} exposes by name for checkpoints.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final Backend be;
    protected final Map<String, Var> params;
    protected final Map<String, Tensor> state = new LinkedHashMap<>();
    protected int step;

    protected Optimizer(Backend be, Map<String, Var> params) {
        this.be = be;
        this.params = new LinkedHashMap<>(params);
    }

    /** Applies one update with learning rate {@code lr}; parameters without a gradient this step are left alone. */
    public final void step(float lr) {
        step++;
        for (var e : params.entrySet()) {
            Tensor g = e.getValue().grad();
            if (g != null) update(e.getKey(), e.getValue().value(), g, lr);
        }
    }

    protected abstract void update(String name, Tensor param, Tensor grad, float lr);

    /** The parameters it updates, by name, in a fixed order. */
    public final Map<String, Var> parameters() { return java.util.Collections.unmodifiableMap(params); }

    /**
     * Whether weight decay applies to a parameter: timm's rule (its optimizer factory's parameter groups with the
     * model's no_weight_decay names): not to biases and norm gains (tensors of one dimension), nor to the position
     * embedding, class token and mask token, which decay would pull towards zero for nothing.
     */
    public static boolean decays(String name, int[] shape) {
        if (shape.length <= 1) return false;
        String leaf = name.substring(name.lastIndexOf('.') + 1);
        return !leaf.equals("pos_embed") && !leaf.equals("cls_token") && !leaf.equals("mask_token");
    }

    /** What {@link #describe} says about weight decay. */
    protected static String decayNote(float weightDecay) {
        return "weight_decay=" + weightDecay + (weightDecay != 0 ? " (not on biases, norms, pos_embed, cls_token)" : "");
    }

    /** A state tensor for a parameter, created zero on first use. */
    protected final Tensor slot(String name, String kind, Tensor like) {
        return state.computeIfAbsent(name + "." + kind, k -> be.zeros(like.shape()));
    }

    /** Steps taken so far. */
    public final int steps() { return step; }

    /** Its name and hyper-parameters, for checkpoints and logs. */
    public abstract String describe();

    /** State tensors under "param.kind" names (e.g. "c1.weight.momentum"); live views, do not close. */
    public final Map<String, Tensor> state() { return state; }

    /** Restores state saved by {@link #state()} and the step count; tensors are copied. */
    public final void load(Map<String, Tensor> saved, int steps) {
        for (var e : saved.entrySet()) {
            String key = e.getKey();
            int dot = key.lastIndexOf('.');
            Var p = dot < 0 ? null : params.get(key.substring(0, dot));
            if (p == null) throw new IllegalArgumentException("optimizer state '" + key + "' belongs to no parameter");
            Tensor dst = slot(key.substring(0, dot), key.substring(dot + 1), p.value());
            if (!dst.hasShape(e.getValue().shape()))
                throw new IllegalArgumentException("optimizer state '" + key + "': expected shape " + dev.fovea.tensor.Shape.str(dst.shape()) + ", got " + dev.fovea.tensor.Shape.str(e.getValue().shape()));
            be.copy(e.getValue(), dst);
        }
        this.step = steps;
    }

    @Override public void close() {
        state.values().forEach(Tensor::close);
        state.clear();
    }
}
