package io.modelpress.train.onnx;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

import java.util.Collection;
import java.util.Map;

/**
 * One forward and backward pass of an {@link OnnxTrainer}: records gradients from its creation until it is closed,
 * and owns every array made meanwhile (its {@link #manager()}). Use one step per batch, in try-with-resources:
 * <pre>
 * try (TrainingStep step = trainer.newStep()) {
 *     Map&lt;String, NDArray&gt; out = step.forward(inputs, List.of("logits", "hidden.3"));
 *     step.backward(Losses.crossEntropy(out.get("logits"), labels));
 * }
 * trainer.optimizerStep();
 * </pre>
 * Only one step may be open at a time in the process (DJL's PyTorch gradient collector is global).
 */
public final class TrainingStep implements AutoCloseable {
    private final OnnxGraphModule module;
    private final NDManager manager;
    private final GradientCollector collector;

    TrainingStep(OnnxGraphModule module, boolean training) {
        this.module = module;
        this.manager = module.manager().newSubManager();
        try {
            this.collector = Engine.getEngine("PyTorch").newGradientCollector();
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        module.setTraining(training);
    }

    /** Where the step's arrays live; make labels and loss terms here. */
    public NDManager manager() {
        return manager;
    }

    /** The forward pass (in the mode the step was opened in): the named outputs (graph outputs or intermediate values). */
    public Map<String, NDArray> forward(Map<String, NDArray> inputs, Collection<String> outputs) {
        return module.forward(manager, inputs, outputs);
    }

    /**
     * Back-propagates a scalar loss into the parameters' gradients (which add up until the next optimizer step).
     *
     * @return the loss value
     */
    public float backward(NDArray loss) {
        if (!loss.getShape().isScalar() && loss.size() != 1) {
            throw new IllegalArgumentException("the loss must be a single number, got shape " + loss.getShape());
        }
        collector.backward(loss);
        return loss.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat();
    }

    @Override
    public void close() {
        try {
            collector.close();
        } finally {
            module.setTraining(false);
            manager.close();
        }
    }
}
