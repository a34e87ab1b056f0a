package dev.fovea.cli;

import dev.fovea.train.Trainer;
import picocli.CommandLine.Option;

/** How the ranks of a data-parallel run (under mpirun) sum their gradients; ignored in one process. */
final class RanksOptions {
    @Option(names = "--bucket-kb", description = "under mpirun: gradients summed in buckets of about this many KiB, each started as soon as backward has"
            + " completed it; 0: all at once after backward; the same on every rank (default: ${DEFAULT-VALUE})")
    long bucketKb = Trainer.DEFAULT_BUCKET_BYTES >> 10;

    long bucketBytes() {
        if (bucketKb < 0) throw new IllegalArgumentException("--bucket-kb must be >= 0, got " + bucketKb);
        return bucketKb << 10;
    }
}
