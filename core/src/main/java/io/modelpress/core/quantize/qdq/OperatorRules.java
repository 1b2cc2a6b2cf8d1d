package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.NodeProto;

import java.util.Map;

/**
 * Which operators take part in QDQ quantization and how. The kinds follow the node-unit patterns that ONNX Runtime's
 * CPU provider (1.26) fuses into integer kernels, checked on its optimized models:
 * <ul>
 * <li>DQ(x), DQ(w), DQ(int32 bias) -> Conv -> [Relu | Clip(0, max)] -> Q becomes QLinearConv (the ReLU is absorbed
 *     when the Q's zero point is the type's lowest value);</li>
 * <li>DQ(a), DQ(w) -> MatMul -> Q becomes QLinearMatMul, without the Q MatMulIntegerToFloat;</li>
 * <li>DQ(a), DQ(w), DQ(int32 bias) -> Gemm -> [Q] becomes QGemm (float output without the Q);</li>
 * <li>DQ, DQ -> Add | Mul -> Q becomes QLinearAdd | QLinearMul; DQ... -> Concat -> Q becomes QLinearConcat;</li>
 * <li>DQ -> AveragePool | GlobalAveragePool -> Q becomes QLinearAveragePool | QLinearGlobalAveragePool;</li>
 * <li>DQ -> MaxPool | Reshape | Flatten | Transpose | Squeeze | Unsqueeze | Slice | Expand -> Q, with the same scale
 *     and zero point on both sides, loses its Q and DQ: the operator runs on the 8-bit values.</li>
 * </ul>
 * On x86 ONNX Runtime turns int8 activation Q/DQ pairs into uint8 ones before fusing, so both activation types give
 * the same kernels there; int8 activations run natively on ARM.
 */
final class OperatorRules {
    enum Kind {
        /** X activation, W weight (per-channel axis 0), B int32 bias; output quantized. */
        CONV(true, true),
        /** A activation, B constant weight (per-channel on its last axis); output quantized when a consumer needs it. */
        MATMUL(true, false),
        /** A activation, B constant weight (per-channel on N), C int32 bias; output quantized when a consumer needs it. */
        GEMM(true, false),
        /** Two activations in, one out (Add, Mul). */
        BINARY(false, true),
        /** Any number of activations in, one out (Concat). */
        CONCAT(false, true),
        /** One activation in, one out with its own scale (average pooling). */
        POOL(false, true),
        /** Moves or selects values without computing new ones: output shares the input's scale and zero point. */
        PASS_THROUGH(false, true);

        private final boolean weighted;
        private final boolean outputRequired;

        Kind(boolean weighted, boolean outputRequired) {
            this.weighted = weighted;
            this.outputRequired = outputRequired;
        }

        boolean weighted() {
            return weighted;
        }

        /** The integer kernel needs a QuantizeLinear on the output (else ONNX Runtime leaves the unit in float). */
        boolean outputRequired() {
            return outputRequired;
        }
    }

    private static final Map<String, Kind> KINDS = Map.ofEntries(
            Map.entry("Conv", Kind.CONV),
            Map.entry("MatMul", Kind.MATMUL),
            Map.entry("Gemm", Kind.GEMM),
            Map.entry("Add", Kind.BINARY),
            Map.entry("Mul", Kind.BINARY),
            Map.entry("Concat", Kind.CONCAT),
            Map.entry("AveragePool", Kind.POOL),
            Map.entry("GlobalAveragePool", Kind.POOL),
            Map.entry("MaxPool", Kind.PASS_THROUGH),
            Map.entry("Reshape", Kind.PASS_THROUGH),
            Map.entry("Flatten", Kind.PASS_THROUGH),
            Map.entry("Transpose", Kind.PASS_THROUGH),
            Map.entry("Squeeze", Kind.PASS_THROUGH),
            Map.entry("Unsqueeze", Kind.PASS_THROUGH),
            Map.entry("Slice", Kind.PASS_THROUGH),
            Map.entry("Expand", Kind.PASS_THROUGH));

    private OperatorRules() {
    }

    /** The node's kind, or null when static quantization does not touch this operator. */
    static Kind kindOf(NodeProto node) {
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return null;
        }
        return KINDS.get(node.getOpType());
    }

    /** ReLU-like nodes that a following QuantizeLinear makes redundant: Relu, and Clip with a constant lower bound of 0. */
    static boolean isRedundantUnderQuantization(NodeProto node, java.util.function.Function<String, float[]> constants) {
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return false;
        }
        if (node.getOpType().equals("Relu")) {
            return true;
        }
        if (!node.getOpType().equals("Clip") || node.getInputCount() < 2 || node.getInput(1).isEmpty()) {
            return false;
        }
        float[] min = constants.apply(node.getInput(1));
        if (min == null || min.length != 1 || min[0] != 0f) {
            return false;
        }
        if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
            float[] max = constants.apply(node.getInput(2));
            return max != null && max.length == 1 && max[0] > 0f;
        }
        return true;
    }
}
