package dev.fovea.autograd;

import dev.fovea.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The attention probabilities of every fused attention op a thread runs while a recorder is open (explaining a
 * model: what attends to what). The fused op never forms the probabilities, only its output and each query's
 * log-sum-exp; the recorder forms them from the op's own normaliser, P = exp(scale·q·kᵀ − lse), so a row sums to one
 * exactly when the op normalised it right. Costs nothing when no recorder is open.
 *
 * <pre>{@code
 * try (AttentionRecorder rec = AttentionRecorder.start(); Tape t = Tape.inference(be)) {
 *     vit.forward(t, x);
 *     AttentionRecorder.Map first = rec.maps().getFirst();       // [B, H, T, T] of the first block
 * }
 * }</pre>
 */
public final class AttentionRecorder implements AutoCloseable {
    private static final ThreadLocal<AttentionRecorder> CURRENT = new ThreadLocal<>();
    private static final ThreadLocal<String> SITE = ThreadLocal.withInitial(() -> "self");

    /**
     * One op's probabilities [batch, heads, queries, keys], row-major; {@code site} is "self" or "cross" (a
     * decoder's attention over the encoder's tokens).
     */
    public record Map(String site, int batch, int heads, int queries, int keys, float[] probs) {
        public float at(int b, int h, int i, int j) { return probs[((b * heads + h) * queries + i) * keys + j]; }
    }

    private final List<Map> maps = new ArrayList<>();

    private AttentionRecorder() {}

    /** Opens a recorder on this thread (one at a time); close it to stop. */
    public static AttentionRecorder start() {
        if (CURRENT.get() != null) throw new IllegalStateException("an attention recorder is already open on this thread");
        AttentionRecorder r = new AttentionRecorder();
        CURRENT.set(r);
        return r;
    }

    /** The maps recorded so far, in the order the ops ran. */
    public List<Map> maps() { return List.copyOf(maps); }

    @Override public void close() { CURRENT.remove(); }

    /** Runs {@code op}, the maps it records labelled {@code site}. */
    public static <T> T at(String site, Supplier<T> op) {
        String outer = SITE.get();
        SITE.set(site);
        try {
            return op.get();
        } finally {
            SITE.set(outer);
        }
    }

    static boolean recording() { return CURRENT.get() != null; }

    /**
     * Records an op's probabilities from q [B,H,T,D] and k [B,H,S,D] (as host arrays, row-major) and its lse [B,H,T].
     * Causal: query i sees keys j ≤ i + S − T.
     */
    static void record(float[] q, float[] k, Tensor lse, int b, int h, int t, int s, int d, float scale, boolean causal) {
        float[] l = lse.toArray(), p = new float[b * h * t * s];
        for (int bh = 0; bh < b * h; bh++)
            for (int i = 0; i < t; i++) {
                int qo = (bh * t + i) * d, po = (bh * t + i) * s;
                for (int j = 0; j < s; j++) {
                    if (causal && j > i + s - t) continue;
                    int ko = (bh * s + j) * d;
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double) q[qo + c] * k[ko + c];
                    p[po + j] = (float) Math.exp(scale * dot - l[bh * t + i]);
                }
            }
        CURRENT.get().maps.add(new Map(SITE.get(), b, h, t, s, p));
    }

    /** q and k [B,H,T,D] of a packed qkv [B,T,3,H,D]. */
    static float[][] unpack(float[] qkv, int b, int t, int h, int d) {
        float[] q = new float[b * h * t * d], k = new float[q.length];
        for (int bi = 0; bi < b; bi++)
            for (int ti = 0; ti < t; ti++)
                for (int hi = 0; hi < h; hi++) {
                    int src = (((bi * t + ti) * 3) * h + hi) * d, dst = ((bi * h + hi) * t + ti) * d;
                    System.arraycopy(qkv, src, q, dst, d);
                    System.arraycopy(qkv, src + h * d, k, dst, d);
                }
        return new float[][]{q, k};
    }
}
