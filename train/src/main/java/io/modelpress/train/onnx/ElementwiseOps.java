package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.nn.Activation;
import io.modelpress.core.onnx.DataType;

import java.util.List;
import java.util.function.BinaryOperator;
import java.util.function.LongBinaryOperator;
import java.util.function.UnaryOperator;

/** Arithmetic, comparisons, activations and softmax: operators that work element by element (with broadcasting). */
final class ElementwiseOps {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    private ElementwiseOps() {
    }

    static void register(OperatorRegistry r) {
        r.register("Add", arithmetic(NDArray::add, (a, b) -> a + b));
        r.register("Sub", arithmetic(NDArray::sub, (a, b) -> a - b));
        r.register("Mul", arithmetic(NDArray::mul, (a, b) -> a * b));
        r.register("Div", ElementwiseOps::div);
        r.register("Pow", ElementwiseOps::pow);
        r.register("Max", variadic(NDArray::maximum, Math::max));
        r.register("Min", variadic(NDArray::minimum, Math::min));
        r.register("Equal", comparison(NDArray::eq, (a, b) -> a == b ? 1 : 0));
        r.register("Less", comparison(NDArray::lt, (a, b) -> a < b ? 1 : 0));
        r.register("LessOrEqual", comparison(NDArray::lte, (a, b) -> a <= b ? 1 : 0));
        r.register("Greater", comparison(NDArray::gt, (a, b) -> a > b ? 1 : 0));
        r.register("GreaterOrEqual", comparison(NDArray::gte, (a, b) -> a >= b ? 1 : 0));
        r.register("And", comparison(NDArray::logicalAnd, (a, b) -> a != 0 && b != 0 ? 1 : 0));
        r.register("Or", comparison(NDArray::logicalOr, (a, b) -> a != 0 || b != 0 ? 1 : 0));
        r.register("Not", node -> node.allHost()
                ? one(HostTensor.combine(node.host(0), HostTensor.scalar(0), DataType.BOOL, (a, b) -> a == 0 ? 1 : 0))
                : one(node.array(0).logicalNot()));
        r.register("Where", ElementwiseOps::where);

        r.register("Neg", node -> node.allHost()
                ? one(HostTensor.combine(node.host(0), HostTensor.scalar(0), node.value(0).type(), (a, b) -> -a))
                : one(node.array(0).neg()));
        r.register("Abs", unary(NDArray::abs));
        r.register("Sqrt", unary(NDArray::sqrt));
        r.register("Exp", unary(NDArray::exp));
        r.register("Log", unary(NDArray::log));
        r.register("Reciprocal", unary(x -> x.getNDArrayInternal().rdiv(1)));
        r.register("Floor", unary(NDArray::floor));
        r.register("Ceil", unary(NDArray::ceil));
        r.register("Erf", unary(NDArray::erf));
        r.register("Tanh", unary(NDArray::tanh));
        r.register("Sigmoid", unary(Activation::sigmoid));
        r.register("Relu", unary(Activation::relu));
        r.register("LeakyRelu", node -> one(Activation.leakyRelu(node.array(0), node.attr("alpha", 0.01f))));
        r.register("HardSigmoid", node -> one(hardSigmoid(node.array(0), node.attr("alpha", 0.2f), node.attr("beta", 0.5f))));
        r.register("HardSwish", node -> {
            NDArray x = node.array(0);
            return one(x.mul(hardSigmoid(x, 1f / 6, 0.5f)));
        });
        r.register("Gelu", ElementwiseOps::gelu);
        r.register("Clip", ElementwiseOps::clip);
        r.register("Softmax", node -> softmax(node, false));
        r.register("LogSoftmax", node -> softmax(node, true));
    }

    static List<Value> one(NDArray array) {
        return List.of(Value.of(array));
    }

    static List<Value> one(HostTensor host) {
        return List.of(Value.of(host));
    }

    private static OperatorHandler unary(UnaryOperator<NDArray> f) {
        return node -> one(f.apply(node.array(0)));
    }

    /** Integer arithmetic on host values (shape computations), engine arithmetic otherwise. */
    private static OperatorHandler arithmetic(BinaryOperator<NDArray> engine, LongBinaryOperator host) {
        return node -> node.allHost()
                ? one(HostTensor.combine(node.host(0), node.host(1), node.value(0).type(), host))
                : one(engine.apply(node.array(0), node.array(1)));
    }

    private static OperatorHandler variadic(BinaryOperator<NDArray> engine, LongBinaryOperator host) {
        return node -> {
            if (node.allHost()) {
                HostTensor result = node.host(0);
                for (int i = 1; i < node.inputCount(); i++) {
                    result = HostTensor.combine(result, node.host(i), result.type(), host);
                }
                return one(result);
            }
            NDArray result = node.array(0);
            for (int i = 1; i < node.inputCount(); i++) {
                result = engine.apply(result, node.array(i));
            }
            return one(result);
        };
    }

    private static OperatorHandler comparison(BinaryOperator<NDArray> engine, LongBinaryOperator host) {
        return node -> node.allHost()
                ? one(HostTensor.combine(node.host(0), node.host(1), DataType.BOOL, host))
                : one(engine.apply(node.array(0), node.array(1)));
    }

    /** Integer division truncates toward zero (as ONNX Runtime's integer Div); the engine's own divides exactly. */
    private static List<Value> div(NodeContext node) {
        if (node.allHost()) {
            return one(HostTensor.combine(node.host(0), node.host(1), node.value(0).type(), (a, b) -> {
                if (b == 0) {
                    throw node.invalid("integer division by zero");
                }
                return a / b;
            }));
        }
        NDArray a = node.array(0);
        NDArray b = node.array(1);
        if (a.getDataType().isFloating()) {
            return one(a.div(b));
        }
        ai.djl.ndarray.types.DataType f64 = ai.djl.ndarray.types.DataType.FLOAT64;
        return one(a.toType(f64, false).div(b.toType(f64, false)).trunc().toType(a.getDataType(), false));
    }

    /** The result has the base's type (ONNX Pow), whatever the exponent's. */
    private static List<Value> pow(NodeContext node) {
        NDArray base = node.array(0);
        NDArray exponent = node.array(1);
        if (base.getDataType().isFloating()) {
            return one(base.pow(OnnxTensors.cast(exponent, base.getDataType())));
        }
        ai.djl.ndarray.types.DataType f64 = ai.djl.ndarray.types.DataType.FLOAT64;
        return one(base.toType(f64, false).pow(exponent.toType(f64, false)).toType(base.getDataType(), false));
    }

    private static List<Value> where(NodeContext node) {
        if (node.allHost()) {
            return one(HostTensor.where(node.host(0), node.host(1), node.host(2)));
        }
        NDArray condition = node.array(0);
        NDArray x = node.array(1);
        NDArray y = node.array(2);
        long[] pair = HostTensor.broadcastShape(condition.getShape().getShape(), x.getShape().getShape());
        long[] shape = pair == null ? null : HostTensor.broadcastShape(pair, y.getShape().getShape());
        if (shape == null) {
            throw node.invalid("condition " + condition.getShape() + ", x " + x.getShape() + " and y " + y.getShape() + " do not broadcast");
        }
        // DJL's where does not broadcast by itself
        ai.djl.ndarray.types.Shape common = new ai.djl.ndarray.types.Shape(shape);
        return List.of(Value.of(NDArrays.where(broadcast(condition, common), broadcast(x, common), broadcast(y, common)),
                node.value(1).type()));
    }

    private static NDArray broadcast(NDArray array, ai.djl.ndarray.types.Shape shape) {
        return array.getShape().equals(shape) ? array : array.broadcast(shape);
    }

    static NDArray hardSigmoid(NDArray x, float alpha, float beta) {
        return x.mul(alpha).add(beta).clip(0, 1);
    }

    private static List<Value> gelu(NodeContext node) {
        NDArray x = node.array(0);
        String approximate = node.attr("approximate", "none");
        NDArray inner = switch (approximate) {
            case "none" -> x.div(Math.sqrt(2)).erf();
            case "tanh" -> x.add(x.pow(3).mul(0.044715)).mul(SQRT_2_OVER_PI).tanh();
            default -> throw node.invalid("approximate must be 'none' or 'tanh', got '" + approximate + "'");
        };
        return one(x.mul(inner.add(1)).mul(0.5));
    }

    /** Bounds are attributes before opset 11, optional inputs since. */
    private static List<Value> clip(NodeContext node) {
        NDArray x = node.array(0);
        if (node.opset() < 11) {
            return one(x.clip(node.attr("min", -Float.MAX_VALUE), node.attr("max", Float.MAX_VALUE)));
        }
        NDArray result = x;
        if (node.has(1)) {
            result = result.maximum(node.array(1));
        }
        if (node.has(2)) {
            result = result.minimum(node.array(2));
        }
        return one(result);
    }

    /**
     * Before opset 13 the input is seen as a matrix [product of dims before axis, product of dims from axis] and
     * normalised along its rows (default axis 1); since 13 along one axis (default -1).
     */
    private static List<Value> softmax(NodeContext node, boolean log) {
        NDArray x = node.array(0);
        int rank = x.getShape().dimension();
        if (node.opset() >= 13) {
            int axis = node.axis(node.attr("axis", -1L), rank);
            return one(log ? x.logSoftmax(axis) : x.softmax(axis));
        }
        int axis = node.axis(node.attr("axis", 1L), rank);
        long rows = x.getShape().slice(0, axis).size();
        NDArray matrix = x.reshape(rows, -1);
        NDArray normalised = log ? matrix.logSoftmax(1) : matrix.softmax(1);
        return one(normalised.reshape(x.getShape()));
    }
}
