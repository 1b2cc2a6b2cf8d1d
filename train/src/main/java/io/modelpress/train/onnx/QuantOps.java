package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.modelpress.core.onnx.DataType;

import java.util.Arrays;
import java.util.List;

/**
 * QuantizeLinear and DequantizeLinear with a straight-through estimator, for quantization-aware fine-tuning of QDQ
 * models. QuantizeLinear's integer levels stay in a float32 array (see {@link Value#isCarriedInteger()}); forward
 * they are exactly {@code clamp(round_half_even(x / scale) + zero_point)}, backward the rounding counts as the
 * identity and the clamp passes no gradient outside the representable range.
 */
final class QuantOps {
    private QuantOps() {
    }

    static void register(OperatorRegistry r) {
        r.register("QuantizeLinear", QuantOps::quantize);
        r.register("DequantizeLinear", QuantOps::dequantize);
    }

    /** The representable levels of a quantized type: {min, max}. */
    static long[] levels(DataType type) {
        return switch (type) {
            case UINT8 -> new long[] {0, 255};
            case INT8 -> new long[] {-128, 127};
            case UINT16 -> new long[] {0, 65535};
            case INT16 -> new long[] {-32768, 32767};
            case INT4 -> new long[] {-8, 7};
            case UINT4 -> new long[] {0, 15};
            case INT32 -> new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE};
            default -> null;
        };
    }

    private static List<Value> quantize(NodeContext node) {
        checkBlocks(node);
        NDArray x = node.array(0);
        NDArray scale = node.array(1);
        DataType type = node.has(2) ? node.value(2).type()
                : DataType.fromOnnx((int) node.attr("output_dtype", (long) DataType.UINT8.onnxId()));
        long[] levels = levels(type);
        if (levels == null || type == DataType.INT32) {
            throw node.unsupported("QuantizeLinear to " + type.displayName());
        }
        NDArray zeroPoint = node.has(2) ? node.array(2) : null;
        return List.of(Value.of(fakeQuantize(x, scale, zeroPoint, axis(node, x, scale), levels), type));
    }

    private static List<Value> dequantize(NodeContext node) {
        checkBlocks(node);
        Value input = node.value(0);
        NDArray scale = node.array(1);
        NDArray levels = input.isCarriedInteger() ? input.array() : node.array(0).toType(scale.getDataType(), false);
        Shape shape = broadcastShape(levels, scale, axis(node, levels, scale));
        NDArray centred = node.has(2) ? levels.sub(node.array(2).toType(levels.getDataType(), false).reshape(shape)) : levels;
        return ElementwiseOps.one(centred.mul(scale.reshape(shape)));
    }

    /** The axis a vector scale runs along; 0 (unused) for a per-tensor scale. */
    private static int axis(NodeContext node, NDArray x, NDArray scale) {
        return scale.getShape().dimension() == 0 ? 0 : node.axis(node.attr("axis", 1L), x.getShape().dimension());
    }

    private static void checkBlocks(NodeContext node) {
        if (node.attr("block_size", 0L) != 0) {
            throw node.unsupported("blocked quantization (block_size)");
        }
    }

    /**
     * Quantizes {@code x} to the integer levels [levels[0], levels[1]] (per tensor, or per slice of {@code axis} when
     * the scale is a vector), keeping them as floats, with the straight-through gradient.
     */
    static NDArray fakeQuantize(NDArray x, NDArray scale, NDArray zeroPoint, int axis, long[] levels) {
        Shape shape = broadcastShape(x, scale, axis);
        NDArray scaled = x.div(scale.toType(x.getDataType(), false).reshape(shape));
        if (zeroPoint != null) {
            scaled = scaled.add(zeroPoint.toType(x.getDataType(), false).reshape(shape));
        }
        NDArray clipped = scaled.clip(levels[0], levels[1]);
        // forward: the rounded levels exactly; backward: d(levels)/d(clipped) = 1
        return clipped.add(clipped.round().sub(clipped).stopGradient());
    }

    /** The shape that lines a per-axis parameter up with {@code axis} of {@code x}; per-tensor parameters as they are. */
    private static Shape broadcastShape(NDArray x, NDArray parameter, int axis) {
        if (parameter.getShape().dimension() == 0 || x.getShape().dimension() == 0) {
            return parameter.getShape();
        }
        if (parameter.getShape().dimension() != 1) {
            throw new IllegalArgumentException("scale and zero point must be scalars or vectors, got shape " + parameter.getShape());
        }
        long[] dims = new long[x.getShape().dimension()];
        Arrays.fill(dims, 1);
        dims[axis] = parameter.getShape().get(0);
        return new Shape(dims);
    }
}
