package dev.fovea.train;

/** Training produced a NaN or infinite loss; parameters are left as they were before that step. */
public final class NonFiniteLossException extends RuntimeException {
    public final int epoch;
    public final long step;

    /** {@code lastGood}: the last checkpoint of the run ("PATH (epoch E)"), or null when none was written. */
    public NonFiniteLossException(int epoch, long step, float loss, String lastGood) {
        super("loss became " + loss + " at step " + step + " (epoch " + epoch + "); parameters were not updated by that step — try a smaller --lr"
                + (lastGood != null ? "; the last good checkpoint is " + lastGood : "; no checkpoint of this run was written"));
        this.epoch = epoch;
        this.step = step;
    }
}
