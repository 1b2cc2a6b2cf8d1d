package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.List;

/** BatchNormalization (inference and training form) and LayerNormalization. */
final class NormalizationOps {
    private NormalizationOps() {
    }

    static void register(OperatorRegistry r) {
        r.register("BatchNormalization", NormalizationOps::batchNorm);
        r.register("LayerNormalization", NormalizationOps::layerNorm);
    }

    /**
     * In inference form the running statistics normalise. In training form (the model trains, or the node's
     * training_mode attribute is set) the batch's own mean and (population) variance do, and the running statistics
     * move toward them as ONNX defines: {@code running = running * momentum + batch * (1 - momentum)}. When the model
     * trains and the statistics are stored in the model, they are updated there (and written back with the weights);
     * the node's optional outputs 1 and 2 are the updated statistics.
     */
    private static List<Value> batchNorm(NodeContext node) {
        NDArray x = node.array(0);
        NDArray scale = node.array(1);
        NDArray bias = node.array(2);
        NDArray mean = node.array(3);
        NDArray var = node.array(4);
        float epsilon = node.attr("epsilon", 1e-5f);
        int rank = x.getShape().dimension();
        if (rank < 2) {
            throw node.invalid("input must have at least 2 dimensions (batch, channels), got " + rank);
        }
        long[] channelShape = new long[rank];
        java.util.Arrays.fill(channelShape, 1);
        channelShape[1] = x.getShape().get(1);
        Shape perChannel = new Shape(channelShape);
        boolean batchStatistics = node.training() || node.attr("training_mode", 0L) != 0;
        if (!batchStatistics) {
            NDArray factor = scale.div(var.add(epsilon).sqrt());
            NDArray shift = bias.sub(mean.mul(factor));
            return ElementwiseOps.one(x.mul(factor.reshape(perChannel)).add(shift.reshape(perChannel)));
        }
        int[] axes = new int[rank - 1];
        axes[0] = 0;
        for (int i = 2; i < rank; i++) {
            axes[i - 1] = i;
        }
        NDArray batchMean = ReduceOps.mean(x, axes, true);
        NDArray centred = x.sub(batchMean);
        NDArray batchVar = ReduceOps.mean(centred.square(), axes, true);
        NDArray y = centred.div(batchVar.add(epsilon).sqrt()).mul(scale.reshape(perChannel)).add(bias.reshape(perChannel));

        float momentum = node.attr("momentum", 0.9f);
        NDArray newMean = running(mean, batchMean, momentum);
        NDArray newVar = running(var, batchVar, momentum);
        if (node.training()) {
            update(node.buffer(3), newMean);
            update(node.buffer(4), newVar);
        }
        List<Value> outputs = new ArrayList<>(List.of(Value.of(y)));
        if (node.wantsOutput(1) || node.wantsOutput(2)) {
            outputs.add(Value.of(newMean));
            outputs.add(Value.of(newVar));
        }
        return outputs;
    }

    private static NDArray running(NDArray running, NDArray batch, float momentum) {
        return running.mul(momentum).add(batch.stopGradient().reshape(running.getShape()).mul(1 - momentum));
    }

    /** Overwrites model state in place (it takes no gradient; this forward pass no longer reads it). */
    private static void update(NDArray state, NDArray value) {
        if (state != null) {
            state.set(new ai.djl.ndarray.index.NDIndex("..."), value.toType(state.getDataType(), false));
        }
    }

    /**
     * Normalises over the dimensions from {@code axis} on (default -1), in float32 at least (stash_type), then
     * scales and shifts. Optional outputs: the mean and the inverse standard deviation.
     */
    private static List<Value> layerNorm(NodeContext node) {
        NDArray input = node.array(0);
        DataType type = input.getDataType();
        boolean widen = type != DataType.FLOAT32 && type != DataType.FLOAT64;
        NDArray x = widen ? OnnxTensors.cast(input, DataType.FLOAT32) : input;
        int rank = x.getShape().dimension();
        int axis = node.axis(node.attr("axis", -1L), rank);
        int[] axes = new int[rank - axis];
        for (int i = axis; i < rank; i++) {
            axes[i - axis] = i;
        }
        NDArray mean = ReduceOps.mean(x, axes, true);
        NDArray centred = x.sub(mean);
        NDArray deviation = ReduceOps.mean(centred.square(), axes, true).add(node.attr("epsilon", 1e-5f)).sqrt();
        NDArray y = centred.div(deviation).mul(OnnxTensors.cast(node.array(1), x.getDataType()));
        if (node.has(2)) {
            y = y.add(OnnxTensors.cast(node.array(2), x.getDataType()));
        }
        List<Value> outputs = new ArrayList<>(List.of(Value.of(widen ? OnnxTensors.cast(y, type) : y)));
        if (node.wantsOutput(1) || node.wantsOutput(2)) {
            outputs.add(Value.of(mean));
            outputs.add(Value.of(deviation.getNDArrayInternal().rdiv(1)));
        }
        return outputs;
    }
}
