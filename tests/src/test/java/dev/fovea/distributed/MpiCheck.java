package dev.fovea.distributed;

import dev.fovea.backend.BackendOptions;
import dev.fovea.backend.Precision;
import dev.fovea.cpu.CpuBackend;
import dev.fovea.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * Run by MpiCollectiveTest under {@code mpirun -np N}: each rank sums, broadcasts and waits with the others and prints
 * "ok rank=R size=N" when every result is what it must be (else it throws, and the rank exits non-zero).
 */
public final class MpiCheck {
    public static void main(String[] args) {
        MpiCollective c = MpiCollective.open();
        int r = c.rank(), n = c.size();
        try (CpuBackend be = new CpuBackend(new BackendOptions(1, Precision.FP32));
             Tensor a = be.upload(new float[]{r, r + 1, 2 * r}, 3); Tensor b = be.upload(new float[]{1, 2, 3, 4}, 2, 2);
             Tensor w = be.upload(new float[]{r, r, r, r, r}, 5)) {
            c.allReduceSum(List.of(a, b));
            float s = n * (n - 1) / 2f;
            expect("sum a", new float[]{s, s + n, 2 * s}, a.toArray());
            expect("sum b", new float[]{n, 2 * n, 3 * n, 4 * n}, b.toArray());
            int root = n - 1;
            c.broadcast(List.of(w), root);
            expect("broadcast", new float[]{root, root, root, root, root}, w.toArray());
            byte[] got = c.broadcast(r == root ? "from the last rank".getBytes() : new byte[0], root);
            if (!new String(got).equals("from the last rank")) throw new AssertionError("broadcast bytes: " + new String(got));
            try {
                c.broadcast(List.of(w), n);
                throw new AssertionError("a root outside the ranks was accepted");
            } catch (IllegalArgumentException expected) {
                if (!expected.getMessage().equals("broadcast: root " + n + " is not a rank of " + n + " processes")) throw expected;
            }
            c.barrier();
        }
        System.out.println("ok rank=" + r + " size=" + n + " " + c.describe());
    }

    static void expect(String what, float[] want, float[] got) {
        if (!Arrays.equals(want, got)) throw new AssertionError(what + ": want " + Arrays.toString(want) + ", got " + Arrays.toString(got));
    }
}
