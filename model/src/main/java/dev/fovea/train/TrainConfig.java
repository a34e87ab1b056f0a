package dev.fovea.train;

import dev.fovea.autograd.Var;
import dev.fovea.backend.Backend;
import dev.fovea.optim.AdamW;
import dev.fovea.optim.LrSchedule;
import dev.fovea.optim.Optimizer;
import dev.fovea.optim.Sgd;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import static dev.fovea.io.Metadata.integer;
import static dev.fovea.io.Metadata.longInteger;
import static dev.fovea.io.Metadata.number;
import static dev.fovea.io.Metadata.string;

/**
 * What a training run is: model, data order, optimizer and schedule. Recorded in checkpoint metadata so that
 * {@code --resume} continues the same run. Made with {@link #builder}, which holds every default.
 *
 * @param schedule       "constant", "step" (×0.1 at 50% and 75% of the steps) or "cosine" (warm-up, then cosine to 0)
 * @param labelSmoothing ε of the cross-entropy's smoothed targets
 * @param augment        random shifts of the training images by up to 1 pixel, and mirrors of the classes that may be
 *                       mirrored (ImageDataset.mirrorable: Fashion-MNIST's but its footwear); for scene tasks, scenes
 *                       mirrored and moved as a whole (SceneData.Move)
 * @param classes        the head's output count
 * @param freezeBackbone only the head is trained (fine-tuning)
 */
public record TrainConfig(String model, String activation, int epochs, int batch, float lr, String optimizer,
                          float momentum, float weightDecay, boolean nesterov, String schedule, int warmupSteps, long seed,
                          float labelSmoothing, boolean augment, int classes, boolean freezeBackbone) {
    public TrainConfig {
        if (classes < 2) throw new IllegalArgumentException("--num-classes must be >= 2, got " + classes);
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new IllegalArgumentException("--label-smoothing must be in [0, 1), got " + labelSmoothing);
        if (epochs < 1) throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        if (!(lr > 0) || Float.isInfinite(lr)) throw new IllegalArgumentException("--lr must be a positive number, got " + lr);
        if (!optimizer.equals("sgd") && !optimizer.equals("adamw"))
            throw new IllegalArgumentException("--optimizer must be sgd or adamw, got '" + optimizer + "'");
        if (!schedule.equals("constant") && !schedule.equals("step") && !schedule.equals("cosine"))
            throw new IllegalArgumentException("--schedule must be constant, step or cosine, got '" + schedule + "'");
        if (warmupSteps < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmupSteps);
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("--momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0) || Float.isInfinite(weightDecay)) throw new IllegalArgumentException("--weight-decay must be a finite number >= 0, got " + weightDecay);
    }

    /** The optimizer over the parameters this run trains: all, or only the head's when the backbone is frozen. */
    public Optimizer newOptimizer(Backend be, dev.fovea.nn.Module net) {
        Map<String, Var> params = freezeBackbone ? ((dev.fovea.models.Classifier) net).headParameters() : net.namedParameters();
        return newOptimizer(be, params);
    }

    public Optimizer newOptimizer(Backend be, Map<String, Var> params) {
        return optimizer.equals("sgd") ? new Sgd(be, params, momentum, weightDecay, nesterov)
                : new AdamW(be, params, 0.9f, 0.999f, 1e-8f, weightDecay);
    }

    public LrSchedule newSchedule(long stepsPerEpoch) {
        long total = stepsPerEpoch * epochs;
        return switch (schedule) {
            case "constant" -> LrSchedule.constant(lr);
            case "step" -> t -> lr * (t < total / 2 ? 1f : t < total * 3 / 4 ? 0.1f : 0.01f);
            default -> LrSchedule.cosine(lr, Math.min(warmupSteps, total), total, 0f);
        };
    }

    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("activation", activation);
        m.put("epochs", Integer.toString(epochs));
        m.put("batch", Integer.toString(batch));
        m.put("lr", Float.toString(lr));
        m.put("optimizer", optimizer);
        m.put("momentum", Float.toString(momentum));
        m.put("weight_decay", Float.toString(weightDecay));
        m.put("nesterov", Boolean.toString(nesterov));
        m.put("schedule", schedule);
        m.put("warmup_steps", Integer.toString(warmupSteps));
        m.put("seed", Long.toString(seed));
        m.put("label_smoothing", Float.toString(labelSmoothing));
        m.put("augment", Boolean.toString(augment));
        m.put("num_classes", Integer.toString(classes));
        m.put("freeze_backbone", Boolean.toString(freezeBackbone));
        return m;
    }

    /** The run a checkpoint records; a missing or malformed entry is an error naming the file and the key. */
    public static TrainConfig fromMetadata(String source, Map<String, String> m) {
        if (!m.containsKey("model")) throw new IllegalArgumentException(source + ": no run settings in its metadata (not a fovea training checkpoint?)");
        try {
            return new TrainConfig(string(source, m, "model"), string(source, m, "activation"), integer(source, m, "epochs"),
                    integer(source, m, "batch"), number(source, m, "lr"), string(source, m, "optimizer"),
                    number(source, m, "momentum"), number(source, m, "weight_decay"),
                    Boolean.parseBoolean(string(source, m, "nesterov")), string(source, m, "schedule"),
                    integer(source, m, "warmup_steps"), longInteger(source, m, "seed"),
                    Float.parseFloat(m.getOrDefault("label_smoothing", "0")), Boolean.parseBoolean(m.getOrDefault("augment", "false")),
                    Integer.parseInt(m.getOrDefault("num_classes", "10")), Boolean.parseBoolean(m.getOrDefault("freeze_backbone", "false")));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": bad number in checkpoint metadata: " + e.getMessage());
        }
    }

    /**
     * A run of {@code model} with its family's defaults for everything not set: the optimizer (SGD for LeNet-5
     * models, AdamW otherwise), learning rate (0.05 under SGD; under AdamW 0.002 for LeNet-5, else 0.001), weight
     * decay (0 under SGD; under AdamW 0.01 for LeNet-5, else 0.05), epochs, warm-up, label smoothing and augmentation
     * (see {@link Builder#build}); batch 64, momentum 0.9, cosine schedule, seed 1, 10 classes.
     */
    public static Builder builder(String model) { return new Builder(model); }

    /**
     * Fine-tuning {@code base}'s model with a new head of {@code classes} outputs: the base run's optimizer,
     * momentum, weight decay, schedule, label smoothing and augmentation; by default a fifth of its learning rate,
     * at most 100 warm-up steps, 5 epochs and seed 2 (the new head's and the data order's). A pretraining model
     * ({@code vit-pretrain}) becomes a plain {@code vit}.
     */
    public static Builder finetuning(TrainConfig base, int classes, boolean freezeBackbone) {
        String model = base.model().equals(dev.fovea.models.Models.VIT_PRETRAIN) ? "vit" : base.model();
        return builder(model).activation(base.activation()).epochs(5).batch(base.batch()).lr(base.lr() / 5).optimizer(base.optimizer())
                .momentum(base.momentum()).weightDecay(base.weightDecay()).nesterov(base.nesterov()).schedule(base.schedule())
                .warmup(Math.min(base.warmupSteps(), 100)).seed(2L).labelSmoothing(base.labelSmoothing()).augment(base.augment())
                .classes(classes).freezeBackbone(freezeBackbone);
    }

    /** Settings of a run; a null argument keeps the default (so options that were not given can be passed as they are). */
    public static final class Builder {
        private final String model;
        private String activation = "", optimizer, schedule = "cosine";
        private Integer epochs, warmup;
        private int batch = 64, classes = 10;
        private Float lr, weightDecay, labelSmoothing;
        private float momentum = 0.9f;
        private Boolean augment;
        private boolean nesterov, freezeBackbone;
        private long seed = 1;

        private Builder(String model) { this.model = model; }

        public Builder activation(String v) { if (v != null) activation = v; return this; }
        public Builder epochs(Integer v) { if (v != null) epochs = v; return this; }
        public Builder batch(Integer v) { if (v != null) batch = v; return this; }
        public Builder lr(Float v) { if (v != null) lr = v; return this; }
        public Builder optimizer(String v) { if (v != null) optimizer = v; return this; }
        public Builder momentum(Float v) { if (v != null) momentum = v; return this; }
        public Builder weightDecay(Float v) { if (v != null) weightDecay = v; return this; }
        public Builder nesterov(Boolean v) { if (v != null) nesterov = v; return this; }
        public Builder schedule(String v) { if (v != null) schedule = v; return this; }
        public Builder warmup(Integer v) { if (v != null) warmup = v; return this; }
        public Builder seed(Long v) { if (v != null) seed = v; return this; }
        public Builder labelSmoothing(Float v) { if (v != null) labelSmoothing = v; return this; }
        public Builder augment(Boolean v) { if (v != null) augment = v; return this; }
        public Builder classes(Integer v) { if (v != null) classes = v; return this; }
        public Builder freezeBackbone(Boolean v) { if (v != null) freezeBackbone = v; return this; }

        /**
         * Family defaults: {@code vit} 50 epochs, 500 warm-up steps, label smoothing 0.1 and shifted and mirrored
         * images (test accuracy on Fashion-MNIST 0.9197 in 41 minutes on 2 cores with seed 1, 0.9193 with seed 2, BENCHMARKS.md);
         * {@code vit-pretrain} 5 epochs, 200 warm-up steps, shifted and mirrored images; {@code scenenet} 20 epochs and
         * {@code captioner} 20, {@code generator} 10, all with 500 warm-up steps; LeNet-5 models 10 epochs, 200 warm-up
         * steps.
         */
        public TrainConfig build() {
            Family f = switch (model) {
                case "vit" -> new Family(50, "adamw", 0.001f, 0.05f, 500, 0.1f, true);
                case "vit-pretrain" -> new Family(5, "adamw", 0.001f, 0.05f, 200, 0.1f, true);
                case "scenenet", "captioner" -> new Family(20, "adamw", 0.001f, 0.05f, 500, 0f, false);
                case "generator" -> new Family(10, "adamw", 0.001f, 0.05f, 500, 0f, false);
                default -> new Family(10, "sgd", 0.002f, 0.01f, 200, 0f, false);
            };
            String opt = optimizer != null ? optimizer : f.optimizer();
            boolean sgd = opt.equals("sgd");
            return new TrainConfig(model, activation, epochs != null ? epochs : f.epochs(), batch, lr != null ? lr : sgd ? 0.05f : f.adamwLr(), opt,
                    momentum, weightDecay != null ? weightDecay : sgd ? 0f : f.adamwDecay(), nesterov, schedule, warmup != null ? warmup : f.warmup(),
                    seed, labelSmoothing != null ? labelSmoothing : f.labelSmoothing(), augment != null ? augment : f.augment(), classes, freezeBackbone);
        }

        private record Family(int epochs, String optimizer, float adamwLr, float adamwDecay, int warmup, float labelSmoothing, boolean augment) {}
    }

    public TrainConfig withEpochs(int e) {
        return new TrainConfig(model, activation, e, batch, lr, optimizer, momentum, weightDecay, nesterov, schedule, warmupSteps, seed, labelSmoothing, augment, classes, freezeBackbone);
    }

    @Override public String toString() {
        return String.format(Locale.ROOT, "model=%s%s epochs=%d batch=%d optimizer=%s lr=%g schedule=%s seed=%d%s%s",
                model, activation.isEmpty() ? "" : " activation=" + activation, epochs, batch, optimizer, lr, schedule, seed,
                labelSmoothing > 0 ? " label_smoothing=" + labelSmoothing : "", augment ? " augment" : "")
                + (classes != 10 ? " classes=" + classes : "") + (freezeBackbone ? " backbone frozen" : "");
    }
}
