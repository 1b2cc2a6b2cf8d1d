package io.modelpress.core.prune.sparse;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.BitSet;

/**
 * Reads a floating-point weight's magnitudes and writes it back with chosen elements set to zero. Elements not
 * zeroed keep their exact bits (whatever the float type), so pruning changes nothing but the pruned values.
 */
final class WeightValues {
    private WeightValues() {
    }

    /** |w| of every element, in stored order. */
    static double[] magnitudes(OnnxModel model, TensorProto tensor) {
        double[] magnitudes;
        if (DataType.of(tensor) == DataType.DOUBLE) {
            ByteBuffer raw = model.bytes(tensor);
            magnitudes = new double[raw.remaining() / 8];
            for (int i = 0; i < magnitudes.length; i++) {
                magnitudes[i] = Math.abs(raw.getDouble(i * 8));
            }
            return magnitudes;
        }
        float[] values = model.floats(tensor);
        magnitudes = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            magnitudes[i] = Math.abs(values[i]);
        }
        return magnitudes;
    }

    /** The tensor with every element in {@code zero} set to +0.0, stored inline as raw data. */
    static TensorProto withZeros(OnnxModel model, TensorProto tensor, BitSet zero) {
        DataType type = DataType.of(tensor);
        int width = type.bits() / 8;
        ByteBuffer source = model.bytes(tensor);
        byte[] data = new byte[source.remaining()];
        source.duplicate().get(data);
        for (int i = zero.nextSetBit(0); i >= 0; i = zero.nextSetBit(i + 1)) {
            java.util.Arrays.fill(data, i * width, (i + 1) * width, (byte) 0);
        }
        return Tensors.raw(tensor.getName(), type, Tensors.dims(tensor), ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN));
    }

    static long zeros(double[] magnitudes) {
        long zeros = 0;
        for (double v : magnitudes) {
            if (v == 0) {
                zeros++;
            }
        }
        return zeros;
    }
}
