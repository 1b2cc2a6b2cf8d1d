package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;

/**
 * Conv stays float in dynamic mode, and the report says why: ONNX Runtime has no integer kernel for it. Its
 * DynamicQuantizeConvIntegerFusion turns DynamicQuantizeLinear + ConvInteger + Cast + Mul back into a float Conv on
 * dequantized weights, so the model would pay the rounding error for no speed. Static (QDQ) quantization is the mode
 * with integer Conv kernels.
 */
final class ConvHandler implements OperatorHandler {
    @Override
    public boolean concerns(NodeProto node, QuantizationContext context) {
        return node.getInputCount() > 1 && context.constant(node.getInput(1)).isPresent();
    }

    @Override
    public String unsupportedReason(NodeProto node, QuantizationContext context) {
        return "ONNX Runtime has no integer kernel for a dynamically quantized Conv (it turns it back into a float Conv); "
                + "use mode static for Conv";
    }

    @Override
    public String activationInput(NodeProto node) {
        return node.getInput(0);
    }

    @Override
    public void quantize(int position, NodeProto node, QuantizationContext context) {
        throw new IllegalStateException("Conv is never quantized in dynamic mode");
    }
}
