package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;

import java.util.List;

/** MatMul(x, W) with a constant 2-D float weight W [K, N]: int8 weights, activations quantized at run time. */
final class MatMulHandler implements OperatorHandler {
    @Override
    public String unsupportedReason(NodeProto node, QuantizationContext context) {
        if (node.getInputCount() != 2 || node.getOutputCount() != 1) {
            return "expected 2 inputs and 1 output";
        }
        boolean firstConstant = context.constant(node.getInput(0)).isPresent();
        boolean secondConstant = context.constant(node.getInput(1)).isPresent();
        if (firstConstant && !secondConstant) {
            return "its constant is the first input (W @ x); per-column weight scales need the weight second";
        }
        if (!secondConstant) {
            return "no constant weight: both inputs are computed at run time";
        }
        if (firstConstant) {
            return "both inputs are constants (a candidate for constant folding, not quantization)";
        }
        return context.weightProblem(node.getInput(1), 2);
    }

    @Override
    public String activationInput(NodeProto node) {
        return node.getInput(0);
    }

    @Override
    public void quantize(int position, NodeProto node, QuantizationContext context) {
        QuantizedWeight weight = context.matMulWeight(node.getInput(1), false, 1f);
        List<NodeProto> nodes = IntegerMatMul.emit(context, node.getName().isEmpty() ? node.getOutput(0) : node.getName(),
                node.getInput(0), weight, node.getOutput(0));
        context.editor().replace(position, nodes);
        context.report().quantized(label(node), node.getOpType(), weight.scheme(), weight.scales());
    }

    static String label(NodeProto node) {
        return io.modelpress.core.onnx.Graphs.nodeLabel(node);
    }
}
