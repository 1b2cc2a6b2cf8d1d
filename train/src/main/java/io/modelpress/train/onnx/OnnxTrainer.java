package io.modelpress.train.onnx;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.modelpress.core.onnx.OnnxModel;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Trains an ONNX model's weights with AdamW on DJL's PyTorch engine: {@link #newStep()} for each batch's forward and
 * backward pass, {@link #optimizerStep()} to update, {@link #writeBack} to put the weights into the ONNX model.
 * The loss is the caller's (see {@link Losses}): any output or intermediate value can enter it.
 *
 * <p>Deterministic for a seed: the engine's generator (dropout) is seeded on creation, and nothing else draws random
 * numbers. Pruned weights (the model's sparsity record) keep their zeros.
 */
public final class OnnxTrainer implements AutoCloseable {
    /**
     * @param optimizer the AdamW settings
     * @param schedule  the learning rate per optimizer step
     * @param seed      seeds the engine's random generator
     * @param module    which weights train, operators, device
     */
    public record Options(AdamW.Settings optimizer, LearningRateSchedule schedule, int seed, OnnxGraphModule.Options module) {
        public Options {
            Objects.requireNonNull(optimizer);
            Objects.requireNonNull(schedule);
            Objects.requireNonNull(module);
        }

        /** AdamW defaults at a constant learning rate of 1e-3, seed 42, default module options. */
        public static Options defaults() {
            return new Options(AdamW.Settings.defaults(), LearningRateSchedule.constant(1e-3), 42, OnnxGraphModule.Options.defaults());
        }

        public Options withOptimizer(AdamW.Settings settings) {
            return new Options(settings, schedule, seed, module);
        }

        public Options withSchedule(LearningRateSchedule newSchedule) {
            return new Options(optimizer, newSchedule, seed, module);
        }

        public Options withSeed(int newSeed) {
            return new Options(optimizer, schedule, newSeed, module);
        }

        public Options withModule(OnnxGraphModule.Options newModule) {
            return new Options(optimizer, schedule, seed, newModule);
        }
    }

    private final OnnxGraphModule module;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private double lastGradientNorm = Double.NaN;
    private boolean lastStepSkipped;

    private OnnxTrainer(OnnxGraphModule module, Options options) {
        this.module = module;
        this.optimizer = new AdamW(options.optimizer(), module.manager());
        this.schedule = options.schedule();
    }

    public static OnnxTrainer create(OnnxModel model) {
        return create(model, Options.defaults());
    }

    public static OnnxTrainer create(OnnxModel model, Options options) {
        Engine.getEngine("PyTorch").setRandomSeed(options.seed());
        return new OnnxTrainer(OnnxGraphModule.load(model, options.module()), options);
    }

    public OnnxGraphModule module() {
        return module;
    }

    /** Opens a training-mode forward/backward pass (close it before the next). */
    public TrainingStep newStep() {
        return new TrainingStep(module, true);
    }

    /**
     * Opens a forward/backward pass in inference mode (running statistics, no dropout): gradients of the model as it
     * is deployed, e.g. for importance scores. Close it before the next.
     */
    public TrainingStep newInferenceStep() {
        return new TrainingStep(module, false);
    }

    /**
     * Updates the weights from the gradients accumulated since the last update, at the schedule's rate, and zeroes
     * the gradients.
     *
     * A step whose gradients are not finite is skipped ({@link #lastStepSkipped()}): the weights stay as they were.
     *
     * @return the learning rate used
     */
    public double optimizerStep() {
        double rate = learningRate();
        lastGradientNorm = optimizer.step(module.parameters(), rate);
        lastStepSkipped = !Double.isFinite(lastGradientNorm);
        return rate;
    }

    /** Whether the last {@link #optimizerStep()} was skipped because its gradients were not finite. */
    public boolean lastStepSkipped() {
        return lastStepSkipped;
    }

    /** Drops the gradients accumulated since the last update (e.g. after a loss that was not finite). */
    public void discardGradients() {
        AdamW.discardGradients(module.parameters());
    }

    /** The learning rate the next {@link #optimizerStep()} uses. */
    public double learningRate() {
        return schedule.rate(optimizer.steps());
    }

    /** Optimizer steps taken. */
    public long stepCount() {
        return optimizer.steps();
    }

    /** The global gradient norm of the last optimizer step (before clipping); NaN before the first. */
    public double lastGradientNorm() {
        return lastGradientNorm;
    }

    /** Inference with the current weights (see {@link OnnxGraphModule#predict}). */
    public Map<String, NDArray> predict(NDManager scope, Map<String, NDArray> inputs, Collection<String> outputs) {
        return module.predict(scope, inputs, outputs);
    }

    public List<GraphParameter> parameters() {
        return module.parameters();
    }

    /** Writes the trained weights and running statistics into {@code model} (see {@link OnnxGraphModule#writeBack}). */
    public void writeBack(OnnxModel model) {
        module.writeBack(model);
    }

    @Override
    public void close() {
        module.close();
    }
}
