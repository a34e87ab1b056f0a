package dev.fovea.nn;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.backend.Conv2dSpec;
import dev.fovea.tensor.Tensor;

import java.util.Arrays;

/**
 * 2-D convolution [N,C,H,W] → [N,O,OH,OW] with weight [O, C/groups, K, K] and bias [O], as torch.nn.Conv2d.
 * An optional connection table (LeNet-5's C3) says which input maps each output map reads: the weight is multiplied
 * by the table's 0/1 mask in the forward, so unconnected weights get no gradient and do not count as parameters.
 */
public final class Conv2d extends Layer {
    public final Var weight, bias;
    private final Conv2dSpec spec;
    private final boolean[][] table;
    private final Tensor mask;
    private final int maskedOut;

    public Conv2d(Backend be, Init init, int in, int out, int k, Conv2dSpec spec) {
        this(be, init, in, out, k, spec, null);
    }

    /** {@code table[o][c]} true when output map o reads input map c (groups must be 1). */
    public Conv2d(Backend be, Init init, int in, int out, int k, Conv2dSpec spec, boolean[][] table) {
        if (in % spec.groups() != 0 || out % spec.groups() != 0)
            throw new IllegalArgumentException("conv2d: channels " + in + "->" + out + " not divisible by groups " + spec.groups());
        this.spec = spec;
        this.table = table;
        int cg = in / spec.groups();
        if (table == null) {
            weight = param("weight", init.pytorchDefault(be, cg * k * k, out, cg, k, k));
            bias = param("bias", init.pytorchDefault(be, cg * k * k, out));
            mask = null;
            maskedOut = 0;
            return;
        }
        if (spec.groups() != 1 || table.length != out)
            throw new IllegalArgumentException("conv2d: a connection table needs groups 1 and one row per output map (" + out + "), got " + table.length);
        float[] m = new float[out * in * k * k];
        int connections = 0;
        for (int o = 0; o < out; o++) {
            if (table[o].length != in) throw new IllegalArgumentException("conv2d: connection table row " + o + " has " + table[o].length + " entries, expected " + in);
            for (int c = 0; c < in; c++) if (table[o][c]) {
                connections++;
                Arrays.fill(m, (o * in + c) * k * k, (o * in + c + 1) * k * k, 1f);
            }
        }
        // fan-in per output map differs; the mean is close enough for a uniform initialisation
        int fanIn = Math.max(1, connections * k * k / out);
        Tensor w = init.pytorchDefault(be, fanIn, out, in, k, k);
        Tensor mt = be.upload(m, out, in, k, k);
        be.mul(w, mt, w);
        weight = param("weight", w);
        bias = param("bias", init.pytorchDefault(be, fanIn, out));
        mask = mt;
        maskedOut = (out * in - connections) * k * k;
    }

    public Conv2dSpec spec() { return spec; }

    /** The connection table, or null when every output map reads every input map of its group. */
    public boolean[][] table() { return table; }

    @Override public Var forward(Tape t, Var x) {
        Var w = mask == null ? weight : t.mul(weight, t.constantView(mask));
        return t.conv2d(x, w, bias, spec);
    }

    @Override public long parameterCount() { return super.parameterCount() - maskedOut; }

    @Override public void close() {
        super.close();
        if (mask != null) mask.close();
    }
}
