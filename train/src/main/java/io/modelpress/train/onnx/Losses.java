package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

/** Loss terms for training and distillation, as differentiable scalars (batch means). */
public final class Losses {
    private Losses() {
    }

    /** Softmax cross-entropy of logits [N, C] against integer class labels [N]. */
    public static NDArray crossEntropy(NDArray logits, NDArray labels) {
        NDArray logProbabilities = logits.logSoftmax(-1);
        NDArray picked = logProbabilities.get(new NDIndex().addAllDim().addPickDim(
                labels.toType(ai.djl.ndarray.types.DataType.INT64, false).reshape(-1, 1)));
        return picked.mean().neg();
    }

    /** Mean squared error (e.g. between hidden states). */
    public static NDArray meanSquaredError(NDArray predicted, NDArray target) {
        return predicted.sub(target).square().mean();
    }

    /**
     * Knowledge distillation: KL(teacher || student) of the temperature-softened distributions over the last axis,
     * scaled by {@code temperature^2} (Hinton et al.) so its gradients keep their size as the temperature changes;
     * mean over the other axes. The teacher's logits take no gradient.
     */
    public static NDArray distillation(NDArray studentLogits, NDArray teacherLogits, double temperature) {
        NDArray teacherLog = teacherLogits.stopGradient().div(temperature).logSoftmax(-1);
        NDArray studentLog = studentLogits.div(temperature).logSoftmax(-1);
        NDArray perRow = teacherLog.exp().mul(teacherLog.sub(studentLog)).sum(new int[] {-1});
        return perRow.mean().mul(temperature * temperature);
    }
}
