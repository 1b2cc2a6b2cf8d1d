package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;

import java.util.ArrayList;
import java.util.List;

/**
 * Emits a float MatMul as the integer pattern ONNX Runtime fuses into one kernel:
 * <pre>
 *   DynamicQuantizeLinear(x) -> (xq, xs, xzp)
 *   MatMulInteger(xq, Wq, xzp [, Wzp]) -> Cast(float) -> Mul(., Mul(xs, Ws)) [-> Add(., bias)]
 * </pre>
 * becomes MatMulIntegerToFloat (with the bias folded in when the Add's second input is a constant vector), and
 * DynamicQuantizeMatMul when the activation has no other quantized consumer. The order of the scale Mul's inputs
 * matters: ONNX Runtime reads its first input as the activation scale and its second as the weight scale, which may be
 * a per-column vector.
 */
final class IntegerMatMul {
    private IntegerMatMul() {
    }

    /**
     * @param name      base for new node names (the replaced node's name)
     * @param output    the float output to produce (the replaced node's output, so consumers are untouched)
     * @return the nodes replacing the float MatMul, DynamicQuantizeLinear first if this is the activation's first use
     */
    static List<NodeProto> emit(QuantizationContext context, String name, String activation, QuantizedWeight weight, String output) {
        GraphEditor editor = context.editor();
        List<NodeProto> nodes = new ArrayList<>();
        QuantizationContext.QuantizedActivation x = context.quantizedActivation(activation, nodes);
        List<String> inputs = new ArrayList<>(List.of(x.values(), weight.values(), x.zeroPoint()));
        if (weight.zeroPoint() != null) {
            inputs.add(weight.zeroPoint());
        }
        String product = editor.freshName(output + "_int32");
        String asFloat = editor.freshName(output + "_int32_float");
        String scale = editor.freshName(output + "_scale");
        nodes.add(Nodes.node("MatMulInteger", editor.freshName(name + "_MatMulInteger"), inputs, List.of(product)));
        nodes.add(Nodes.node("Cast", editor.freshName(name + "_Cast"), List.of(product), List.of(asFloat),
                Nodes.attr("to", (long) DataType.FLOAT.onnxId())));
        nodes.add(Nodes.node("Mul", editor.freshName(name + "_scale_Mul"), List.of(x.scale(), weight.scale()), List.of(scale)));
        nodes.add(Nodes.node("Mul", editor.freshName(name + "_output_Mul"), List.of(asFloat, scale), List.of(output)));
        return nodes;
    }
}
