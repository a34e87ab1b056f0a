package dev.fovea.nn;

import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.List;

/**
 * One attention layer's keys and values [B, H, S, Dh] from earlier decoding steps, so that generating a token costs
 * one position's projections instead of the whole prefix's. Owns its tensors (they outlive every step's tape) and
 * frees them on close.
 */
public final class KvCache implements AutoCloseable {
    private final Backend be;
    private Tensor k, v;

    public KvCache(Backend be) { this.be = be; }

    public boolean isEmpty() { return k == null; }

    /** Positions held. */
    public int length() { return k == null ? 0 : k.dim(2); }

    public Tensor keys() { return k; }
    public Tensor values() { return v; }

    /** Appends the new positions' keys and values [B, H, n, Dh] (copied: the caller's tape may free them). */
    public void append(Tensor kNew, Tensor vNew) {
        k = grow(k, kNew);
        v = grow(v, vNew);
    }

    private Tensor grow(Tensor old, Tensor add) {
        int[] s = add.shape();
        if (old != null) s[2] += old.dim(2);
        Tensor out = be.empty(s);
        if (old == null) be.copy(add, out);
        else {
            be.concat(List.of(old, add), 2, out);
            old.close();
        }
        return out;
    }

    /** Keeps batch rows {@code rows} (as floats), in that order — the surviving hypotheses of a beam search. */
    public void select(Tensor rows) {
        if (k == null) return;
        k = pick(k, rows);
        v = pick(v, rows);
    }

    private Tensor pick(Tensor t, Tensor rows) {
        int b = t.dim(0), rest = t.numel() / b, n = rows.dim(0);
        int[] s = t.shape();
        s[0] = n;
        Tensor out = be.empty(s);
        be.gather(t.reshape(b, rest), rows, out.reshape(n, rest));
        t.close();
        return out;
    }

    @Override public void close() {
        if (k != null) k.close();
        if (v != null) v.close();
        k = v = null;
    }
}
