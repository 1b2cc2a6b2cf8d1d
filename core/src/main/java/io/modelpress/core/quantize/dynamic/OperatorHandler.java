package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;

/**
 * Quantizes one operator type. Handlers are small and independent; {@link DynamicQuantizer} finds them by operator
 * type in its registry, asks each whether it can take a node, and lets it replace the node through the context.
 */
interface OperatorHandler {
    /** False for nodes of the handler's type that are not quantization candidates at all (left out of the report). */
    default boolean concerns(NodeProto node, QuantizationContext context) {
        return true;
    }

    /** Why this node stays in float, or null when the handler can quantize it. */
    String unsupportedReason(NodeProto node, QuantizationContext context);

    /**
     * The float activation input that is quantized at run time, or null when there is none (embedding lookups).
     * Calibration observes these values.
     */
    String activationInput(NodeProto node);

    /** Replaces the node at {@code position}; records what it did in the context's report. */
    void quantize(int position, NodeProto node, QuantizationContext context);
}
