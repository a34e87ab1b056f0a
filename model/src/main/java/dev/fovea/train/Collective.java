package dev.fovea.train;

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

    /** Each tensor ← rank {@code root}'s. */
    void broadcast(List<Tensor> tensors, int root);

    /** Rank {@code root}'s bytes on every rank (any length; the others' arguments are ignored). */
    byte[] broadcast(byte[] data, int root);

    /** Returns when every rank has called it. */
    void barrier();

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
