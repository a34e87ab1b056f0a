package dev.fovea.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Data movement: permute, slices, row gather/scatter, and sums over axes. */
final class Layout {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Layout() {}

    /**
     * out (shape os) ← x permuted; out axis i is x axis perm[i]. Walks out in order with an odometer over the
     * source strides; the innermost out axis is copied in a tight loop.
     */
    static void permute(float[] x, int[] xs, float[] out, int[] perm, int from, int to) {
        int r = xs.length;
        int[] xStr = dev.fovea.tensor.Shape.strides(xs);
        int[] os = new int[r], src = new int[r];
        for (int i = 0; i < r; i++) { os[i] = xs[perm[i]]; src[i] = xStr[perm[i]]; }
        int inner = os[r - 1], innerStride = src[r - 1];
        int rows = inner == 0 ? 0 : to / inner;
        int[] idx = new int[r];
        // from and to are multiples of inner: start the odometer at row from/inner
        int row = from / inner;
        for (int a = r - 2, rem = row; a >= 0; a--) { idx[a] = rem % os[a]; rem /= os[a]; }
        for (int rw = row, o = from; rw < rows; rw++) {
            int base = 0;
            for (int a = 0; a < r - 1; a++) base += idx[a] * src[a];
            if (innerStride == 1) {
                System.arraycopy(x, base, out, o, inner);
            } else {
                for (int j = 0; j < inner; j++) out[o + j] = x[base + j * innerStride];
            }
            o += inner;
            for (int a = r - 2; a >= 0; a--) {
                if (++idx[a] < os[a]) break;
                idx[a] = 0;
            }
        }
    }

    /** Copies along an axis: outer × [len of part] × inner blocks between part and whole (toWhole picks the direction). */
    static void sliceCopy(float[] whole, int[] ws, float[] part, int axis, int start, int len, boolean toWhole) {
        int outer = dev.fovea.tensor.Shape.prod(ws, 0, axis), inner = dev.fovea.tensor.Shape.prod(ws, axis + 1, ws.length);
        int wAxis = ws[axis];
        for (int o = 0; o < outer; o++) {
            int w = (o * wAxis + start) * inner, p = o * len * inner;
            if (toWhole) System.arraycopy(part, p, whole, w, len * inner);
            else System.arraycopy(whole, w, part, p, len * inner);
        }
    }

    static int index(float[] idx, int i, int rows, String op) {
        float v = idx[i];
        int r = (int) v;
        if (r != v || r < 0 || r >= rows)
            throw new IllegalArgumentException(op + ": idx[" + i + "] = " + v + " is not a row index in [0, " + rows + ")");
        return r;
    }

    /**
     * Sums x over the flagged axes into out. Fast paths: a leading block of axes (bias gradients) and a trailing
     * block (row sums); anything else walks every element.
     */
    static void sum(float[] x, int[] xs, boolean[] reduce, float[] out) {
        int r = xs.length;
        int firstKept = 0;
        while (firstKept < r && reduce[firstKept]) firstKept++;
        boolean leading = true;
        for (int a = firstKept; a < r; a++) if (reduce[a]) { leading = false; break; }
        if (leading) { // reduce axes [0, firstKept)
            int outer = dev.fovea.tensor.Shape.prod(xs, 0, firstKept), inner = dev.fovea.tensor.Shape.prod(xs, firstKept, r);
            if (inner == 1) { out[0] = Pointwise.sum(x, 0, outer); return; }
            java.util.Arrays.fill(out, 0f);
            for (int o = 0; o < outer; o++) Pointwise.axpy(1f, x, o * inner, out, 0, inner);
            return;
        }
        int lastKept = r - 1;
        while (lastKept >= 0 && reduce[lastKept]) lastKept--;
        boolean trailing = true;
        for (int a = 0; a <= lastKept; a++) if (reduce[a]) { trailing = false; break; }
        if (trailing) { // reduce axes (lastKept, r)
            int outer = dev.fovea.tensor.Shape.prod(xs, 0, lastKept + 1), inner = dev.fovea.tensor.Shape.prod(xs, lastKept + 1, r);
            for (int o = 0; o < outer; o++) out[o] = Pointwise.sum(x, o * inner, (o + 1) * inner);
            return;
        }
        int[] outStr = new int[r];
        for (int a = r - 1, s = 1; a >= 0; a--) {
            if (reduce[a]) continue;
            outStr[a] = s;
            s *= xs[a];
        }
        java.util.Arrays.fill(out, 0f);
        int[] idx = new int[r];
        for (int i = 0; i < x.length; i++) {
            int o = 0;
            for (int a = 0; a < r; a++) o += idx[a] * outStr[a];
            out[o] += x[i];
            for (int a = r - 1; a >= 0; a--) {
                if (++idx[a] < xs[a]) break;
                idx[a] = 0;
            }
        }
    }
}
