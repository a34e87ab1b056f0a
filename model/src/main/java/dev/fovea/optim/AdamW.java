package dev.fovea.optim;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.Map;

/** AdamW as torch.optim.AdamW: decoupled weight decay (where {@link #decays} allows), bias-corrected moments. */
public final class AdamW extends Optimizer {
    private final float beta1, beta2, eps, weightDecay;

    public AdamW(Backend be, Map<String, Var> params, float beta1, float beta2, float eps, float weightDecay) {
        super(be, params);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
    public AdamW(Backend be, Map<String, Var> params) { this(be, params, 0.9f, 0.999f, 1e-8f, 0.01f); }

    @Override protected void update(String name, Tensor param, Tensor grad, float lr) {
        be.adamWStep(param, grad, slot(name, "m", param), slot(name, "v", param), step, lr, beta1, beta2, eps,
                decays(name, param.shape()) ? weightDecay : 0f);
    }

    @Override public String describe() {
        return "adamw betas=(" + beta1 + "," + beta2 + ") eps=" + eps + " " + decayNote(weightDecay);
    }
}
