package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.NodeProto;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What static quantization will do to one graph, decided before any data is seen: which nodes become quantized units,
 * which values get a QuantizeLinear/DequantizeLinear pair, and which calibrated value each pair takes its scale from.
 */
final class QdqPlan {
    /**
     * A node that runs on 8-bit values once ONNX Runtime fuses its QDQ pattern.
     *
     * @param activationSlots input positions that carry quantized activations
     * @param weightSlot      input position of the constant weight, or -1
     * @param weightAxis      axis of the weight's output channels (per-channel scales), or -1 for per-tensor
     * @param biasSlot        input position of the bias (quantized to int32), or -1
     */
    record Unit(int position, NodeProto node, OperatorRules.Kind kind, List<Integer> activationSlots, int weightSlot,
                int weightAxis, int biasSlot) {
        String label() {
            return io.modelpress.core.onnx.Graphs.nodeLabel(node);
        }
    }

    /** A node of a quantizable type that stays in float, and why. */
    record Skip(NodeProto node, String reason) {
    }

    final Map<Integer, Unit> units = new LinkedHashMap<>();
    final List<Skip> skipped = new java.util.ArrayList<>();
    /** Quantized value -> the calibrated value whose range gives its scale and zero point (itself, or shared). */
    final Map<String, String> rangeSource = new LinkedHashMap<>();
    /** Quantized values written by a unit or a fused activation: every reader takes the dequantized value. */
    final Set<String> producedQuantized = new LinkedHashSet<>();
    /** Unit position -> the quantized value that closes it (its output, or the ReLU output it absorbs). */
    final Map<Integer, String> quantizedOutputs = new LinkedHashMap<>();
    /** ReLU/Clip positions absorbed by the QuantizeLinear that follows them, with the unit they belong to. */
    final Map<Integer, String> fusedActivations = new LinkedHashMap<>();

    /** Values whose histograms the plan needs. */
    Set<String> calibratedValues() {
        return new LinkedHashSet<>(rangeSource.values());
    }

    Map<String, String> rangeSource() {
        return Collections.unmodifiableMap(rangeSource);
    }
}
