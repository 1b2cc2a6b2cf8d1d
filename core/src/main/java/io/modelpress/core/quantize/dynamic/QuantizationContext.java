package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.quantize.QuantType;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.WeightQuantizer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * State shared by the handlers during one quantization: the graph editor, the report, and caches so that a weight
 * read by several nodes is stored once and an activation read by several MatMuls is quantized once.
 */
final class QuantizationContext {
    private final OnnxModel model;
    private final DynamicOptions options;
    private final GraphEditor editor;
    private final QuantizationReport report;
    private final Map<String, QuantizedWeight> weights = new HashMap<>();
    private final Map<String, QuantizedActivation> activations = new HashMap<>();
    private final Map<String, Optional<TensorProto>> constants = new HashMap<>();

    /** Outputs of the DynamicQuantizeLinear node that quantizes one activation. */
    record QuantizedActivation(String values, String scale, String zeroPoint) {
    }

    QuantizationContext(OnnxModel model, DynamicOptions options, GraphEditor editor, QuantizationReport report) {
        this.model = model;
        this.options = options;
        this.editor = editor;
        this.report = report;
    }

    OnnxModel model() {
        return model;
    }

    DynamicOptions options() {
        return options;
    }

    GraphEditor editor() {
        return editor;
    }

    QuantizationReport report() {
        return report;
    }

    /** A constant (initializer or Constant node output) of the main graph, looked up once. */
    Optional<TensorProto> constant(String name) {
        return constants.computeIfAbsent(name, n -> Weights.find(model, n));
    }

    /**
     * The run-time quantization of {@code activation}: creates its DynamicQuantizeLinear node (appended to
     * {@code into}) the first time, and reuses it for every later consumer.
     */
    QuantizedActivation quantizedActivation(String activation, List<NodeProto> into) {
        QuantizedActivation q = activations.get(activation);
        if (q == null) {
            q = new QuantizedActivation(editor.freshName(activation + "_quantized"), editor.freshName(activation + "_scale"),
                    editor.freshName(activation + "_zero_point"));
            into.add(Nodes.node("DynamicQuantizeLinear", editor.freshName(activation + "_DynamicQuantizeLinear"),
                    List.of(activation), List.of(q.values(), q.scale(), q.zeroPoint())));
            activations.put(activation, q);
        }
        return q;
    }

    /**
     * A MatMul weight [K, N] as integers with one scale per output column (or per tensor), created once per weight,
     * orientation and scale factor.
     *
     * @param transpose the stored weight is [N, K] (Gemm transB=1)
     * @param scaleFactor multiplies every scale (Gemm alpha)
     */
    QuantizedWeight matMulWeight(String weightName, boolean transpose, float scaleFactor) {
        String key = weightName + (transpose ? "^T" : "") + "*" + scaleFactor;
        QuantizedWeight cached = weights.get(key);
        if (cached != null) {
            return cached;
        }
        TensorProto tensor = constant(weightName).orElseThrow();
        long[] dims = Tensors.dims(tensor);
        float[] values = model.floats(tensor);
        if (transpose) {
            values = Tensors.transpose(values, (int) dims[0], (int) dims[1]);
            dims = new long[] {dims[1], dims[0]};
        }
        QuantType type = options.weightType();
        boolean symmetric = options.symmetricWeights();
        WeightQuantizer.Quantized q = options.perChannel()
                ? WeightQuantizer.perChannel(values, dims, 1, type, symmetric)
                : WeightQuantizer.perTensor(values, type, symmetric);
        float[] scales = q.scales().clone();
        for (int i = 0; i < scales.length; i++) {
            scales[i] *= scaleFactor;
        }
        String base = weightName + (transpose ? "_transposed" : "");
        String valuesName = editor.freshName(base + "_quantized");
        editor.addInitializer(Tensors.ofBytes(valuesName, type.dataType(), dims, q.bytes()));
        long[] paramDims = options.perChannel() ? new long[] {dims[1]} : new long[0];
        String scaleName = editor.freshName(base + "_scale");
        editor.addInitializer(Tensors.ofFloats(scaleName, paramDims, scales));
        String zeroPointName = null;
        if (!allZero(q.zeroPoints())) {
            zeroPointName = editor.freshName(base + "_zero_point");
            byte[] zp = new byte[q.zeroPoints().length];
            for (int i = 0; i < zp.length; i++) {
                zp[i] = (byte) q.zeroPoints()[i];
            }
            editor.addInitializer(Tensors.ofBytes(zeroPointName, type.dataType(), paramDims, zp));
        }
        String scheme = type.name().toLowerCase() + (options.perChannel() ? " per-channel" : " per-tensor")
                + (symmetric ? " symmetric" : " asymmetric") + " weights, dynamic uint8 activations";
        QuantizedWeight result = new QuantizedWeight(valuesName, scaleName, zeroPointName, scales, scheme);
        weights.put(key, result);
        editor.mayBeUnused(weightName);
        return result;
    }

    /** Checks common to every weight: float32, stored in the main graph. */
    String weightProblem(String weightName, int rank) {
        Optional<TensorProto> tensor = constant(weightName);
        if (tensor.isEmpty()) {
            return "input '" + weightName + "' is computed at run time, not a constant weight";
        }
        DataType type = DataType.of(tensor.get());
        if (type != DataType.FLOAT) {
            return "weight '" + weightName + "' is " + type.displayName() + "; only float32 weights are quantized";
        }
        if (rank > 0 && tensor.get().getDimsCount() != rank) {
            return "weight '" + weightName + "' has rank " + tensor.get().getDimsCount() + "; only " + rank + "-D weights are quantized";
        }
        return null;
    }

    private static boolean allZero(int[] values) {
        for (int v : values) {
            if (v != 0) {
                return false;
            }
        }
        return true;
    }
}
