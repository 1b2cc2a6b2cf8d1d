package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Gemm(A, B, C) = alpha * A @ op(B) + beta * C with a constant 2-D B: B is stored as int8 [K, N] (transposed here
 * when transB=1), alpha is folded into the weight scales and beta into a constant C.
 */
final class GemmHandler implements OperatorHandler {
    @Override
    public String unsupportedReason(NodeProto node, QuantizationContext context) {
        if (node.getInputCount() < 2 || node.getOutputCount() != 1) {
            return "expected 2 or 3 inputs and 1 output";
        }
        if (Nodes.intAttribute(node, "transA", 0) != 0) {
            return "transA=1: the activation would need a transpose first";
        }
        if (context.constant(node.getInput(0)).isPresent()) {
            return context.constant(node.getInput(1)).isPresent()
                    ? "both inputs are constants (a candidate for constant folding, not quantization)"
                    : "its constant is the first input (A); per-column weight scales need the weight as B";
        }
        return context.weightProblem(node.getInput(1), 2);
    }

    @Override
    public String activationInput(NodeProto node) {
        return node.getInput(0);
    }

    @Override
    public void quantize(int position, NodeProto node, QuantizationContext context) {
        GraphEditor editor = context.editor();
        float alpha = Nodes.floatAttribute(node, "alpha", 1f);
        float beta = Nodes.floatAttribute(node, "beta", 1f);
        boolean transB = Nodes.intAttribute(node, "transB", 0) != 0;
        QuantizedWeight weight = context.matMulWeight(node.getInput(1), transB, alpha);
        String name = MatMulHandler.label(node);
        String output = node.getOutput(0);
        boolean hasBias = node.getInputCount() > 2 && !node.getInput(2).isEmpty() && beta != 0f;
        String product = hasBias ? editor.freshName(output + "_product") : output;
        List<NodeProto> nodes = new ArrayList<>(IntegerMatMul.emit(context, name, node.getInput(0), weight, product));
        if (hasBias) {
            String bias = node.getInput(2);
            Optional<TensorProto> constant = context.constant(bias);
            if (beta != 1f && constant.isPresent()) {
                float[] values = context.model().floats(constant.get());
                for (int i = 0; i < values.length; i++) {
                    values[i] *= beta;
                }
                String scaled = editor.freshName(bias + "_times_beta");
                editor.addInitializer(Tensors.ofFloats(scaled, Tensors.dims(constant.get()), values));
                editor.mayBeUnused(bias);
                bias = scaled;
            } else if (beta != 1f) {
                String betaName = editor.freshName(name + "_beta");
                editor.addInitializer(Tensors.scalarFloat(betaName, beta));
                String scaled = editor.freshName(bias + "_times_beta");
                nodes.add(Nodes.node("Mul", editor.freshName(name + "_beta_Mul"), List.of(bias, betaName), List.of(scaled)));
                bias = scaled;
            }
            // the bias second: ONNX Runtime folds Add(product, constant vector) into MatMulIntegerToFloat
            nodes.add(Nodes.node("Add", editor.freshName(name + "_bias_Add"), List.of(product, bias), List.of(output)));
        }
        editor.replace(position, nodes);
        context.report().quantized(name, node.getOpType(), weight.scheme(), weight.scales());
    }
}
