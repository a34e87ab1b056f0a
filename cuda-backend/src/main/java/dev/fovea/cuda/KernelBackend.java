package dev.fovea.cuda;

import dev.fovea.backend.Activation;
import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

/**
 * A backend whose ops other than memory, GEMM, convolution and pooling run on Fovea's own kernels through
 * {@link KernelOps}: the CUDA backend, and in the tests the host emulation of its kernels.
 */
abstract class KernelBackend extends Backend {
    /** The kernel ops; set up by the subclass's constructor. */
    abstract KernelOps ops();

    @Override protected void activationForwardImpl(Activation f, Tensor x, Tensor y) { ops().activationForward(f, x, y); }
    @Override protected void activationBackwardImpl(Activation f, Tensor x, Tensor y, Tensor dy, Tensor dx) { ops().activationBackward(f, x, y, dy, dx); }
    @Override protected void softmaxForwardImpl(Tensor x, Tensor y, boolean causal) { ops().softmaxForward(x, y, causal); }
    @Override protected void softmaxBackwardImpl(Tensor y, Tensor dy, Tensor dx) { ops().softmaxBackward(y, dy, dx); }

    @Override protected void crossEntropyForwardImpl(Tensor logits, Tensor labels, Tensor probs, Tensor loss, float smoothing) {
        ops().crossEntropyForward(logits, labels, probs, loss, smoothing);
    }

    @Override protected void crossEntropyBackwardImpl(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits, float smoothing) {
        ops().crossEntropyBackward(probs, labels, dloss, dlogits, smoothing);
    }

    @Override protected void layerNormForwardImpl(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, int d) {
        ops().layerNormForward(x, gamma, beta, eps, y, mean, rstd, d);
    }

    @Override protected void layerNormBackwardImpl(Tensor dy, Tensor x, Tensor gamma, Tensor mean, Tensor rstd,
                                                   Tensor dx, Tensor dgamma, Tensor dbeta, int d) {
        ops().layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, d);
    }

    @Override protected void attentionForwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, float scale, boolean causal) {
        ops().attentionForward(q, k, v, out, lse, scale, causal);
    }

    @Override protected void attentionBackwardImpl(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dout,
                                                   Tensor dq, Tensor dk, Tensor dv, float scale, boolean causal) {
        ops().attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, scale, causal);
    }

    @Override protected void attentionPackedForwardImpl(Tensor qkv, Tensor out, Tensor lse, float scale, boolean causal) {
        ops().attentionPackedForward(qkv, out, lse, scale, causal);
    }

    @Override protected void attentionPackedBackwardImpl(Tensor qkv, Tensor out, Tensor lse, Tensor dout, Tensor dqkv, float scale, boolean causal) {
        ops().attentionPackedBackward(qkv, out, lse, dout, dqkv, scale, causal);
    }

    @Override protected void binaryImpl(Binary kind, Tensor a, Tensor b, Tensor out) { ops().binary(kind, a, b, out); }
    @Override protected void scaleImpl(Tensor x, float alpha, Tensor out) { ops().scale(x, alpha, out); }
    @Override protected void axpyImpl(float alpha, Tensor x, Tensor y) { ops().axpy(alpha, x, y); }
    @Override protected void sumImpl(Tensor x, boolean[] reduce, Tensor out) { ops().sum(x, reduce, out); }
    @Override protected void permuteImpl(Tensor x, Tensor out, int[] perm) { ops().permute(x, out, perm); }
    @Override protected void sliceImpl(Tensor x, int axis, int start, Tensor out) { ops().slice(x, axis, start, out); }
    @Override protected void insertSliceImpl(Tensor src, int axis, int start, Tensor dst) { ops().insertSlice(src, axis, start, dst); }
    @Override protected void gatherImpl(Tensor table, Tensor idx, Tensor out) { ops().gather(table, idx, out); }
    @Override protected void scatterAddImpl(Tensor src, Tensor idx, Tensor table) { ops().scatterAdd(src, idx, table); }

    @Override protected void sgdStepImpl(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, boolean nesterov) {
        ops().sgdStep(param, grad, velocity, lr, momentum, weightDecay, nesterov);
    }

    @Override protected void adamWStepImpl(Tensor param, Tensor grad, Tensor m, Tensor v, int step,
                                           float lr, float beta1, float beta2, float eps, float weightDecay) {
        ops().adamWStep(param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay);
    }
}
