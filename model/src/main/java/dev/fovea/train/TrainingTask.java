package dev.fovea.train;

import dev.fovea.autograd.Tape;
import dev.fovea.autograd.Var;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * What a task brings to the one training loop ({@link Trainer}): its training examples, how a batch of them is
 * prepared and what its loss is, the test pass after each epoch, and what a checkpoint must record to rebuild the
 * model. The loop owns everything else: epochs, the data order, the schedule, the tape, the update, checkpoints.
 *
 * @param <B> a prepared batch: host data only, made on the loader thread one batch ahead of the step
 */
public interface TrainingTask<B> {
    /** Training examples; an epoch visits each once, in the order drawn from (seed, epoch). */
    int trainCount();

    /**
     * The host-side inputs of training examples {@code idx} (in batch order). {@code rng} is the epoch's own stream
     * (augmentation, a choice among captions, masks), drawn batch after batch, so a run resumed at an epoch draws
     * what an uninterrupted one does; null outside an epoch (benchmarks). Runs on the loader thread: it must not use
     * the backend.
     */
    B prepare(int[] idx, SplittableRandom rng);

    /**
     * The batch's loss on {@code t}, a one-element Var. Tasks with a training accuracy add {right, counted} to
     * {@code accuracy}.
     */
    Var loss(Tape t, B batch, long[] accuracy);

    /**
     * Examples [from, to) of a prepared batch, for data-parallel training: every process prepares the whole batch
     * (the same random draws as one process would make) and trains on its share. The shares' losses, each weighted by
     * {@link #weight}(share) / weight(batch), must sum to the batch's: a mean of per-example losses slices as it is; a
     * loss normalised by something of the whole batch (a count of positive cells) keeps that normaliser in its shares.
     */
    default B slice(B batch, int from, int to) {
        throw new IllegalArgumentException(name() + ": this task cannot be trained by several processes (under mpirun): it does not say how to"
                + " split a batch (TrainingTask.slice)");
    }

    /**
     * What the batch's loss is a mean over (with {@link #slice}): its examples, or the caption tokens it predicts. A
     * share's loss and gradients count for weight(share) / weight(batch) of the batch's.
     */
    default double weight(B batch) {
        throw new IllegalArgumentException(name() + ": this task cannot be trained by several processes: it does not say what its loss is a mean over"
                + " (TrainingTask.weight)");
    }

    /**
     * The test pass after each epoch (evaluation mode, no gradients), on every rank of a data-parallel run at once
     * ({@link Collective#single()} in one process): the ranks share the test examples and sum what they found, and rank
     * 0 gets the report (the others null). Null when the task has no test pass.
     */
    TestReport evaluate(Collective ranks);

    /** Checkpoint metadata beyond the {@link TrainConfig}: what rebuilds the model and reads its outputs. */
    Map<String, String> metadata();

    /** How the run is named on its result line: "model=lenet5", "task=detect". */
    String name();

    /** What the training accuracy column holds ("acc", "cell acc"), or null when the task has none. */
    default String accuracyName() { return "acc"; }

    /** The chart's title. */
    String chartTitle();

    /**
     * A test pass's result: the loss (NaN if the task has none) and the metric that fills the history's test-accuracy
     * column, a line for the epoch log, and the fields of the run's result line ("test_accuracy=0.9012").
     */
    record TestReport(double loss, double primary, String summary, String resultFields) {}
}
