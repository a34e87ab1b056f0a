package dev.fovea.optim;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.Map;

/** SGD as torch.optim.SGD (dampening 0): momentum, Nesterov, L2 weight decay added to the gradient (where {@link #decays} allows). */
public final class Sgd extends Optimizer {
    private final float momentum, weightDecay;
    private final boolean nesterov;

    public Sgd(Backend be, Map<String, Var> params, float momentum, float weightDecay, boolean nesterov) {
        super(be, params);
        if (momentum < 0) throw new IllegalArgumentException("sgd: momentum must be >= 0, got " + momentum);
        if (nesterov && momentum == 0) throw new IllegalArgumentException("sgd: Nesterov needs momentum > 0");
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    @Override protected void update(String name, Tensor param, Tensor grad, float lr) {
        Tensor v = momentum == 0 ? null : slot(name, "momentum", param);
        be.sgdStep(param, grad, v, lr, momentum, decays(name, param.shape()) ? weightDecay : 0f, nesterov);
    }

    @Override public String describe() {
        return "sgd momentum=" + momentum + " " + decayNote(weightDecay) + (nesterov ? " nesterov" : "");
    }
}
