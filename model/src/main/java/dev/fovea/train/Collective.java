package dev.fovea.train;

import dev.fovea.backend.Backend;
import dev.fovea.tensor.Tensor;

import java.util.List;

/**
 * The processes of a data-parallel run and what they do together: sum tensors over all of them (each gets the sum),
 * send rank {@code root}'s tensors or bytes to all, wait for all. One process alone is {@link #single()}; MPI and
 * NCCL implementations live in the distributed module. Errors are exceptions naming the call and the library's reason,
 * never an abort.
 */
public interface Collective extends AutoCloseable {
    /** This process's index, 0 ≤ rank < size. */
    int rank();

    /** The number of processes. */
    int size();

    /** Each tensor ← its sum over all ranks, in place; every rank passes tensors of the same shapes in the same order. */
    void allReduceSum(List<Tensor> tensors);

    /**
     * Starts {@link #allReduceSum} of the tensors and returns at once where the library can run it beside the caller
     * (the caller then leaves them alone until {@link Pending#await}); every rank starts the same sums in the same order.
     * By default it sums before returning.
     */
    default Pending startAllReduceSum(List<Tensor> tensors) {
        allReduceSum(tensors);
        return Pending.DONE;
    }

    /** A sum started by {@link #startAllReduceSum}. */
    interface Pending {
        Pending DONE = () -> {};

        /** Returns when the sum is in the tensors; throws what the sum threw. */
        void await();
    }

    /** Each tensor ← rank {@code root}'s. */
    void broadcast(List<Tensor> tensors, int root);

    /** Rank {@code root}'s bytes on every rank (any length; the others' arguments are ignored). */
    byte[] broadcast(byte[] data, int root);

    /** Returns when every rank has called it. */
    void barrier();

    /** The first of this rank's share of n items, [shareFrom(n), shareTo(n)): ranks take consecutive, near-equal parts. */
    default int shareFrom(int n) { return (int) ((long) n * rank() / size()); }

    /** The end (exclusive) of this rank's share of n items. */
    default int shareTo(int n) { return (int) ((long) n * (rank() + 1) / size()); }

    /** Host values summed over all ranks (through a tensor of {@code be}); a test pass's sums (counts exact below 2^24). */
    default float[] sum(Backend be, float... values) {
        if (size() == 1) return values.clone();
        try (Tensor t = be.upload(values, values.length)) {
            allReduceSum(List.of(t));
            return t.toArray();
        }
    }

    /**
     * Every rank's part of an array of {@code total} floats, each at its {@code offset}, assembled on every rank: a sum in
     * which each position has one rank's value and the others' zeros, so the result is exact.
     */
    default float[] gather(Backend be, float[] part, int offset, int total) {
        if (offset < 0 || offset + part.length > total)
            throw new IllegalArgumentException("gather: a part of " + part.length + " at " + offset + " does not fit in " + total);
        float[] all = new float[total];
        System.arraycopy(part, 0, all, offset, part.length);
        return size() == 1 ? all : sum(be, all);
    }

    /** One line: the library and the process count. */
    String describe();

    @Override void close();

    /** One process, no communication: every call returns at once, leaving its arguments as they are. */
    static Collective single() {
        return new Collective() {
            @Override public int rank() { return 0; }
            @Override public int size() { return 1; }
            @Override public void allReduceSum(List<Tensor> tensors) {}
            @Override public void broadcast(List<Tensor> tensors, int root) { check(root); }
            @Override public byte[] broadcast(byte[] data, int root) { check(root); return data; }
            @Override public void barrier() {}
            @Override public String describe() { return "one process"; }
            @Override public void close() {}

            private void check(int root) {
                if (root != 0) throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of one process");
            }
        };
    }
}
