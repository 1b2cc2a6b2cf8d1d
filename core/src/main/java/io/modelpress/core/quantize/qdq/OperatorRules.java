package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which operators take part in QDQ quantization and how: one small handler per operator, found by operator type in a
 * registry (as the dynamic mode's handlers are). The kinds follow the node-unit patterns that ONNX Runtime's
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

    /** What a handler may ask about the graph being planned. */
    interface NodeFacts {
        StaticSettings settings();

        /** The constant (initializer or Constant node) behind a value. */
        Optional<TensorProto> constant(String value);

        /** Null when the input is a float32 value computed at run time, else why it cannot be a quantized activation. */
        String activation(NodeProto node, int slot);

        /** The bias slot, -1 without a bias, -2 when it cannot be quantized. */
        int biasSlot(NodeProto node, int slot, long channels);
    }

    /** Decides for one node of its operator: a {@link QdqPlan.Unit}, or the reason (a String) why it stays in float. */
    @FunctionalInterface
    interface Analysis {
        Object analyse(NodeFacts facts, int position, NodeProto node);
    }

    /** How static quantization treats one operator: its unit kind and the analysis of its nodes. */
    record Handler(Kind kind, Analysis analysis) {
    }

    private static final Handler CONV = new Handler(Kind.CONV, OperatorRules::conv);
    private static final Handler MATMUL = new Handler(Kind.MATMUL, OperatorRules::matMul);
    private static final Handler GEMM = new Handler(Kind.GEMM, OperatorRules::gemm);
    private static final Handler BINARY = new Handler(Kind.BINARY, (facts, position, node) -> join(facts, position, node, Kind.BINARY));
    private static final Handler CONCAT = new Handler(Kind.CONCAT, (facts, position, node) -> join(facts, position, node, Kind.CONCAT));
    private static final Handler POOL = new Handler(Kind.POOL, (facts, position, node) -> singleInput(facts, position, node, Kind.POOL));
    private static final Handler PASS_THROUGH = new Handler(Kind.PASS_THROUGH,
            (facts, position, node) -> singleInput(facts, position, node, Kind.PASS_THROUGH));

    /** The registry: operator type to handler. */
    private static final Map<String, Handler> HANDLERS = Map.ofEntries(
            Map.entry("Conv", CONV),
            Map.entry("MatMul", MATMUL),
            Map.entry("Gemm", GEMM),
            Map.entry("Add", BINARY),
            Map.entry("Mul", BINARY),
            Map.entry("Concat", CONCAT),
            Map.entry("AveragePool", POOL),
            Map.entry("GlobalAveragePool", POOL),
            Map.entry("MaxPool", PASS_THROUGH),
            Map.entry("Reshape", PASS_THROUGH),
            Map.entry("Flatten", PASS_THROUGH),
            Map.entry("Transpose", PASS_THROUGH),
            Map.entry("Squeeze", PASS_THROUGH),
            Map.entry("Unsqueeze", PASS_THROUGH),
            Map.entry("Slice", PASS_THROUGH),
            Map.entry("Expand", PASS_THROUGH));

    private OperatorRules() {
    }

    /** The node's handler, or null when static quantization does not touch this operator. */
    static Handler handlerOf(NodeProto node) {
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return null;
        }
        return HANDLERS.get(node.getOpType());
    }

    /** Whether static quantization touches this operator at all. */
    static boolean handles(NodeProto node) {
        return handlerOf(node) != null;
    }

    private static Object conv(NodeFacts facts, int position, NodeProto node) {
        String why = facts.activation(node, 0);
        if (why != null) {
            return why;
        }
        TensorProto w = facts.constant(QdqPlanner.input(node, 1)).orElse(null);
        if (w == null || DataType.of(w) != DataType.FLOAT || w.getDimsCount() < 3) {
            return "its weight is not a float32 constant";
        }
        long channelsPerGroup = w.getDims(1);
        boolean depthwise = channelsPerGroup == 1 && Nodes.intAttribute(node, "group", 1) > 1;
        if (QdqPlanner.slowIntegerConv(channelsPerGroup) && !depthwise && !facts.settings().selector().includeNames().contains(node.getName())) {
            return "it reads only " + channelsPerGroup + " input channel" + (channelsPerGroup == 1 ? "" : "s")
                    + " per group, where ONNX Runtime's integer convolution is slower than its float one"
                    + " (name the node in include.nodes to quantize it anyway)";
        }
        int bias = facts.biasSlot(node, 2, w.getDims(0));
        if (bias == -2) {
            return "its bias is not a float32 constant with one value per output channel";
        }
        return new QdqPlan.Unit(position, node, Kind.CONV, List.of(0), 1, facts.settings().perChannel() ? 0 : -1, bias);
    }

    private static Object matMul(NodeFacts facts, int position, NodeProto node) {
        String why = facts.activation(node, 0);
        if (why != null) {
            return why;
        }
        TensorProto w = facts.constant(QdqPlanner.input(node, 1)).orElse(null);
        if (w == null) {
            return "its second input is not a constant weight (activation x activation products stay in float)";
        }
        if (DataType.of(w) != DataType.FLOAT || w.getDimsCount() < 2) {
            return "its weight is not a float32 matrix";
        }
        int axis = facts.settings().perChannel() && w.getDimsCount() == 2 ? 1 : -1;
        return new QdqPlan.Unit(position, node, Kind.MATMUL, List.of(0), 1, axis, -1);
    }

    private static Object gemm(NodeFacts facts, int position, NodeProto node) {
        String why = facts.activation(node, 0);
        if (why != null) {
            return why;
        }
        TensorProto w = facts.constant(QdqPlanner.input(node, 1)).orElse(null);
        if (w == null || DataType.of(w) != DataType.FLOAT || w.getDimsCount() != 2) {
            return "its B input is not a float32 constant matrix";
        }
        boolean transB = Nodes.intAttribute(node, "transB", 0) != 0;
        int nAxis = transB ? 0 : 1;
        int bias = facts.biasSlot(node, 2, w.getDims(nAxis));
        if (bias == -2) {
            return "its C input is not a float32 constant with one value per output column (or a scalar)";
        }
        return new QdqPlan.Unit(position, node, Kind.GEMM, List.of(0), 1, facts.settings().perChannel() ? nAxis : -1, bias);
    }

    /** Add, Mul, Concat: every input an activation. */
    private static Object join(NodeFacts facts, int position, NodeProto node, Kind kind) {
        List<Integer> activations = new ArrayList<>();
        for (int slot = 0; slot < node.getInputCount(); slot++) {
            String why = facts.activation(node, slot);
            if (why != null) {
                return why;
            }
            activations.add(slot);
        }
        if (activations.isEmpty()) {
            return "it has no inputs";
        }
        return new QdqPlan.Unit(position, node, kind, activations, -1, -1, -1);
    }

    /** Pooling and pass-through operators: one activation in, one value out. */
    private static Object singleInput(NodeFacts facts, int position, NodeProto node, Kind kind) {
        String why = facts.activation(node, 0);
        if (why != null) {
            return why;
        }
        if (node.getOutputCount() != 1) {
            return "it has more than one output";
        }
        return new QdqPlan.Unit(position, node, kind, List.of(0), -1, -1, -1);
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
