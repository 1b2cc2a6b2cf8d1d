package io.modelpress.core.prune.ops;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/** The registry of operator handlers for the default ONNX domain; operators not listed freeze what they touch. */
public final class OpHandlers implements Function<NodeProto, OpHandler> {
    private static final OpHandlers STANDARD = new OpHandlers();

    private final Map<String, OpHandler> byOp = new HashMap<>();

    private OpHandlers() {
        register(new ConvHandler(), "Conv");
        register(new ConvTransposeHandler(), "ConvTranspose");
        register(new GemmHandler(), "Gemm");
        register(new MatMulHandler(), "MatMul");
        register(new GatherHandler(), "Gather");
        register(new ElementwiseHandler(), "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "PRelu",
                "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Mod", "BitShift",
                "BitwiseAnd", "BitwiseOr", "BitwiseXor");
        register(new PassThroughHandler(), "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu",
                "Elu", "Selu", "Celu", "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Shrink", "Abs", "Neg", "Exp", "Log",
                "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
                "Cosh", "Asinh", "Acosh", "Atanh", "IsNaN", "IsInf", "Not", "BitwiseNot", "Identity", "Cast", "CastLike",
                "Dropout", "Clip");
        register(new PoolingHandler(), "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool");
        register(new NormalizationHandler(), "BatchNormalization", "InstanceNormalization", "LayerNormalization",
                "LpNormalization", "MeanVarianceNormalization", "LRN", "GroupNormalization");
        register(new SoftmaxHandler(), "Softmax", "LogSoftmax", "Hardmax");
        register(new ReduceHandler(), "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin");
        register(new ConcatHandler(), "Concat");
        register(new SplitHandler(), "Split");
        register(new SliceHandler(), "Slice");
        register(new TransposeHandler(), "Transpose");
        register(new ReshapeHandler(), "Reshape");
        register(new FlattenHandler(), "Flatten");
        register(new SqueezeHandler(), "Squeeze", "Unsqueeze");
        register(new ShapeHandler(), "Shape", "Size");
        register(new LayoutHandler(), "Pad", "Resize", "Upsample", "Tile", "Expand");
        register(new QuantizeHandler(), "QuantizeLinear", "DequantizeLinear");
    }

    public static OpHandlers standard() {
        return STANDARD;
    }

    private void register(OpHandler handler, String... ops) {
        for (String op : ops) {
            byOp.put(op, handler);
        }
    }

    /** The handler for a node, or null when its operator is not understood. */
    @Override
    public OpHandler apply(NodeProto node) {
        String domain = node.getDomain();
        if (!domain.isEmpty() && !domain.equals("ai.onnx")) {
            return null;
        }
        return byOp.get(node.getOpType());
    }
}
