package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Small constant-tensor edits shared by the per-channel float rewrites (SmoothQuant, channel shift, outlier channels). */
public final class ChannelScaling {
    private ChannelScaling() {
    }

    /** The weight of a MatMul/Gemm as [K, N] values (Gemm transB undone), with K and N. */
    public record Matrix(float[] values, int rows, int cols) {
        public float get(int r, int c) {
            return values[r * cols + c];
        }
    }

    /** Largest channel max over the median channel max: how badly one per-tensor scale fits. */
    public static double outlierStrength(float[] xMax) {
        float[] sorted = xMax.clone();
        Arrays.sort(sorted);
        float median = sorted[sorted.length / 2];
        return median > 0 ? sorted[sorted.length - 1] / median : 1;
    }

    public static boolean isDefault(NodeProto node, String opType) {
        return node.getOpType().equals(opType) && ModelValidator.isDefaultDomain(node.getDomain());
    }

    public static boolean transposed(NodeProto node) {
        return isDefault(node, "Gemm") && Nodes.intAttribute(node, "transB", 0) != 0;
    }

    public static Matrix weight(OnnxModel model, NodeProto node) {
        TensorProto tensor = model.constant(node.getInput(1)).orElseThrow();
        long[] dims = Tensors.dims(tensor);
        float[] values = model.floats(tensor);
        if (transposed(node)) {
            return new Matrix(Tensors.transpose(values, (int) dims[0], (int) dims[1]), (int) dims[1], (int) dims[0]);
        }
        return new Matrix(values, (int) dims[0], (int) dims[1]);
    }

    /** Stores [K, N] values as the node's new weight (a fresh initializer, transposed back for Gemm transB=1). */
    public static NodeProto withWeight(GraphEditor editor, NodeProto node, Matrix weight, String suffix) {
        float[] values = weight.values();
        long[] dims = {weight.rows(), weight.cols()};
        if (transposed(node)) {
            values = Tensors.transpose(values, weight.rows(), weight.cols());
            dims = new long[] {weight.cols(), weight.rows()};
        }
        String name = editor.freshName(node.getInput(1) + suffix);
        editor.addInitializer(Tensors.ofFloats(name, dims, values));
        editor.mayBeUnused(node.getInput(1));
        return node.toBuilder().setInput(1, name).build();
    }

    /**
     * A constant that broadcasts along the last axis of a value with {@code channels} channels: one value per channel
     * (or one for all), every other dimension 1. Empty otherwise.
     */
    public static Optional<float[]> perChannelConstant(OnnxModel model, String name, int channels) {
        Optional<TensorProto> tensor = model.constant(name);
        if (tensor.isEmpty() || !io.modelpress.core.onnx.DataType.of(tensor.get()).equals(io.modelpress.core.onnx.DataType.FLOAT)) {
            return Optional.empty();
        }
        long[] dims = Tensors.dims(tensor.get());
        for (int i = 0; i < dims.length - 1; i++) {
            if (dims[i] != 1) {
                return Optional.empty();
            }
        }
        float[] values = model.floats(tensor.get());
        if (values.length == channels) {
            return Optional.of(values);
        }
        if (values.length == 1) {
            float[] expanded = new float[channels];
            java.util.Arrays.fill(expanded, values[0]);
            return Optional.of(expanded);
        }
        return Optional.empty();
    }

    /** Whether {@code value} is read only by the given nodes (and is no graph output). */
    public static boolean onlyReadBy(GraphIndex index, String value, List<Integer> positions) {
        return !index.isGraphOutput(value) && positions.containsAll(index.consumersOf(value));
    }

    /** The constant input of a two-input node, or -1 when there is not exactly one. */
    public static int constantInput(OnnxModel model, NodeProto node) {
        if (node.getInputCount() != 2) {
            return -1;
        }
        boolean first = model.constant(node.getInput(0)).isPresent();
        boolean second = model.constant(node.getInput(1)).isPresent();
        return first == second ? -1 : (first ? 0 : 1);
    }
}
