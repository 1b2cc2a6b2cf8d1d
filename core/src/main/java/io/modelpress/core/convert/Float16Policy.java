package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Which operators, inputs and outputs stay float32 in a float16 model. Built from the ONNX type constraints (the
 * operators and inputs below have no float16 in the schema, so a float16 version would be an invalid model) plus
 * operators whose output type is set by an attribute or whose values are not plain tensors.
 *
 * <p>ONNX Runtime's CPU provider (1.26, x86) has float16 kernels mainly for data movement (Gather, Reshape,
 * Transpose, Slice, Split, Expand, Cast) and LayerNormalization; for the arithmetic operators it inserts
 * Casts around the node itself and computes in float32. Such operators are still converted: the model stays valid
 * ONNX, runs on CPU, and computes natively in float16 on GPUs. Measured by loading one float16 node per operator
 * and looking for the Casts ONNX Runtime added.
 */
final class Float16Policy {
    private static final Map<String, String> KEEP = new HashMap<>();

    static {
        keep("the ONNX schema has no float16 for it", "Range", "Celu", "IsInf", "NonMaxSuppression", "TfIdfVectorizer");
        keep("quantization scales are float32", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                "QLinearConv", "QLinearMatMul");
        keep("its output type is set by an attribute", "RandomNormal", "RandomUniform", "RandomNormalLike",
                "RandomUniformLike", "Multinomial", "Bernoulli", "EyeLike", "HannWindow", "HammingWindow",
                "BlackmanWindow", "MelWeightMatrix");
        keep("running sums lose precision and overflow in float16", "CumSum");
        keep("ONNX Runtime expands it into a function body with float32 constants", "MeanVarianceNormalization");
        keep("sequence and optional values stay float32", "SequenceConstruct", "SequenceEmpty", "SequenceInsert",
                "SequenceAt", "SequenceErase", "SequenceLength", "SplitToSequence", "ConcatFromSequence", "SequenceMap",
                "Optional", "OptionalGetElement", "OptionalHasElement");
    }

    private Float16Policy() {
    }

    private static void keep(String reason, String... ops) {
        for (String op : ops) {
            KEEP.put(op, reason);
        }
    }

    /** Why a node of the default domain stays float32, or null when it is converted. */
    static String keepReason(NodeProto node) {
        String op = node.getOpType();
        if ((op.equals("ScatterElements") || op.equals("ScatterND"))
                && !Nodes.stringAttribute(node, "reduction", "none").equals("none")) {
            return "ONNX Runtime's CPU kernel has no float16 with a reduction";
        }
        if (op.equals("Cast") && Nodes.intAttribute(node, "to", 0) == DataType.STRING.onnxId()) {
            return "printing float16 values would change the text";
        }
        return KEEP.get(op);
    }

    /** Inputs that stay float32 in a converted node: coordinates and scales (float32 only in the schema). */
    static Set<Integer> float32Inputs(String op, long opset) {
        return switch (op) {
            case "Resize" -> opset >= 11 ? Set.of(1, 2) : Set.of(1);
            case "Upsample" -> Set.of(1);
            default -> Set.of();
        };
    }

    /** Outputs that stay float32 in a converted node: LayerNormalization's statistics (type U: float32 or bfloat16). */
    static Set<Integer> float32Outputs(String op) {
        return op.equals("LayerNormalization") ? Set.of(1, 2) : Set.of();
    }
}
