package io.modelpress.train.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.TensorInfo;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.importance.Importance;
import io.modelpress.core.prune.importance.ImportanceProvider;
import io.modelpress.core.prune.importance.WeightScoreImportance;
import io.modelpress.train.onnx.GraphParameter;
import io.modelpress.train.onnx.Losses;
import io.modelpress.train.onnx.OnnxTrainer;
import io.modelpress.train.onnx.TrainingStep;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Criterion {@code taylor}: the first-order Taylor estimate of how much the loss changes when a weight is removed,
 * |w * dL/dw| (Molchanov et al., 2019), with the gradients summed over the run's sample data by the ONNX-on-DJL
 * trainer in inference mode (running statistics, no dropout). The loss is the cross-entropy of each output against the model's own predictions (the arg-max of its last
 * axis), so no labels are needed: a channel scores by how much removing it would move the model away from what it
 * predicts now. A channel whose weights are large but whose output nothing downstream reads scores zero, where
 * magnitude criteria keep it.
 */
public final class TaylorCriterion implements ImportanceProvider {
    @Override
    public String name() {
        return "taylor";
    }

    @Override
    public boolean needsData() {
        return true;
    }

    @Override
    public Importance create(Context context) {
        return new WeightScoreImportance(context.model(), context.graph(), weightScores(context), name());
    }

    /** |w * dL/dw| for every float weight of the model, by constant name. */
    static Map<String, float[]> weightScores(Context context) {
        OnnxModel model = context.model();
        try (OnnxTrainer trainer = OnnxTrainer.create(model)) {
            List<String> outputs = trainer.module().outputNames();
            int[] batches = {0};
            context.data().forEachBatch(context.samples(), (inputs, size) -> {
                try (TrainingStep step = trainer.newInferenceStep()) {
                    Map<String, NDArray> arrays = new LinkedHashMap<>();
                    inputs.forEach((name, tensor) -> arrays.put(name, array(step.manager(), name, tensor)));
                    step.backward(selfTargetLoss(step.forward(arrays, outputs)));
                }
                batches[0]++;
            });
            if (batches[0] == 0) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "criterion taylor", "needs sample data (--data) to take gradients on");
            }
            Map<String, float[]> scores = new HashMap<>();
            for (GraphParameter parameter : trainer.parameters()) {
                NDArray weights = parameter.array();
                try (NDArray product = weights.mul(weights.getGradient()).abs()) {
                    scores.put(parameter.name(), product.toFloatArray());
                }
            }
            trainer.discardGradients();
            return scores;
        }
    }

    /** The sum over the float outputs of cross-entropy against their own arg-max along the last axis. */
    static NDArray selfTargetLoss(Map<String, NDArray> outputs) {
        NDArray total = null;
        for (Map.Entry<String, NDArray> e : outputs.entrySet()) {
            NDArray out = e.getValue();
            if (!out.getDataType().isFloating() || out.getShape().dimension() < 1 || out.getShape().tail() < 2) {
                continue;
            }
            NDArray scores = out.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).reshape(-1, out.getShape().tail());
            NDArray loss = Losses.crossEntropy(scores, scores.stopGradient().argMax(-1));
            total = total == null ? loss : total.add(loss);
        }
        if (total == null) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "criterion taylor", "found no float output with two or "
                    + "more values along its last axis to take a loss on (outputs: " + outputs.keySet() + ")");
        }
        return total;
    }

    private static NDArray array(NDManager manager, String name, OnnxTensor tensor) {
        TensorInfo info = tensor.getInfo();
        Shape shape = new Shape(info.getShape());
        return switch (info.type) {
            case FLOAT -> manager.create(tensor.getFloatBuffer(), shape);
            case DOUBLE -> manager.create(tensor.getDoubleBuffer(), shape);
            case INT64 -> manager.create(tensor.getLongBuffer(), shape);
            case INT32 -> manager.create(tensor.getIntBuffer(), shape);
            case BOOL -> manager.create(tensor.getByteBuffer(), shape, ai.djl.ndarray.types.DataType.BOOLEAN);
            default -> throw new ModelPressException(ErrorCode.DATA_MISMATCH, "input '" + name + "'", "is " + info.type
                    + ", which criterion taylor cannot feed to the trainer (float, double, int64, int32 and bool can be)");
        };
    }
}
