package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ExternalData;
import io.modelpress.core.onnx.Tensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Conversions between ONNX tensors, DJL arrays and host tensors. */
public final class OnnxTensors {
    private OnnxTensors() {
    }

    /**
     * The DJL type that holds values of an ONNX type: 16-bit integers as int32, unsigned 32 and 64 bit as int64 (which
     * holds them all but uint64 > 2^63). DJL 0.36's PyTorch engine aborts the process on int16 arrays, and neither
     * creates nor casts to bfloat16 reliably, which is not offered.
     */
    public static ai.djl.ndarray.types.DataType djlType(DataType type) {
        return switch (type) {
            case FLOAT -> ai.djl.ndarray.types.DataType.FLOAT32;
            case DOUBLE -> ai.djl.ndarray.types.DataType.FLOAT64;
            case FLOAT16 -> ai.djl.ndarray.types.DataType.FLOAT16;
            case INT8 -> ai.djl.ndarray.types.DataType.INT8;
            case UINT8 -> ai.djl.ndarray.types.DataType.UINT8;
            case INT16, UINT16, INT32 -> ai.djl.ndarray.types.DataType.INT32;
            case INT64, UINT32, UINT64 -> ai.djl.ndarray.types.DataType.INT64;
            case BOOL -> ai.djl.ndarray.types.DataType.BOOLEAN;
            default -> throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR,
                    "tensors of type " + type.displayName() + " are not supported by the ONNX-on-DJL trainer");
        };
    }

    public static DataType onnxType(ai.djl.ndarray.types.DataType type) {
        return switch (type) {
            case FLOAT32 -> DataType.FLOAT;
            case FLOAT64 -> DataType.DOUBLE;
            case FLOAT16 -> DataType.FLOAT16;
            case INT8 -> DataType.INT8;
            case UINT8 -> DataType.UINT8;
            case INT32 -> DataType.INT32;
            case INT64 -> DataType.INT64;
            case BOOLEAN -> DataType.BOOL;
            default -> throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR,
                    "DJL arrays of type " + type + " have no ONNX counterpart here");
        };
    }

    /**
     * {@code x} as type {@code type}, recorded by autograd when both types are floating point. DJL's own
     * {@code toType} runs without gradient in the PyTorch engine, so a float cast is made a cumulative product over
     * an added unit axis with that output type: the identity, with the conversion inside a differentiable operator.
     */
    public static NDArray cast(NDArray x, ai.djl.ndarray.types.DataType type) {
        if (x.getDataType() == type) {
            return x;
        }
        if (!x.getDataType().isFloating() || !type.isFloating() || !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return x.toType(type, false);
        }
        int axis = x.getShape().dimension();
        return x.expandDims(axis).cumProd(axis, type).squeeze(axis);
    }

    /** A stored tensor as an engine array of its own type (unsigned 16-64 bit become int64). */
    public static NDArray toArray(NDManager manager, TensorProto tensor, ExternalData external) {
        DataType type = DataType.of(tensor);
        Shape shape = new Shape(Tensors.dims(tensor));
        return switch (type) {
            case FLOAT, DOUBLE, FLOAT16, INT8, UINT8, INT32, INT64, BOOL -> {
                ByteBuffer raw = Tensors.bytes(tensor, external);
                ByteBuffer direct = ByteBuffer.allocateDirect(Math.max(1, raw.remaining())).order(ByteOrder.nativeOrder());
                direct.put(raw.duplicate().order(ByteOrder.LITTLE_ENDIAN)).flip();
                yield manager.create(direct, shape, djlType(type));
            }
            case INT16, UINT16, UINT32, UINT64 -> {
                try (NDArray longs = manager.create(Tensors.toLongs(tensor, external), shape)) {
                    yield longs.toType(djlType(type), true);
                }
            }
            default -> throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "tensor '" + tensor.getName() + "'",
                    "is " + type.displayName() + ", which the ONNX-on-DJL trainer does not support");
        };
    }

    /** A stored integer or bool tensor as a host tensor. */
    public static HostTensor toHost(TensorProto tensor, ExternalData external) {
        return new HostTensor(DataType.of(tensor), Tensors.dims(tensor), Tensors.toLongs(tensor, external));
    }

    /**
     * An engine array holding a host tensor's values in its ONNX type, in memory of the engine's own. An array that
     * {@code manager.create} makes from Java values lives in a Java buffer that is freed once the array is closed, but
     * autograd may keep the tensor for the backward pass after that (a node's scope closes its temporaries when the
     * node is done): Gather's indices read back from freed memory made a backward pass fail with "index
     * 34298768281 is out of bounds". The copy costs little: host tensors are small integer data.
     */
    public static NDArray toArray(NDManager manager, HostTensor host) {
        Shape shape = new Shape(host.shape());
        if (host.type() == DataType.BOOL) {
            boolean[] flags = new boolean[host.size()];
            for (int i = 0; i < flags.length; i++) {
                flags[i] = host.values()[i] != 0;
            }
            try (NDArray borrowed = manager.create(flags, shape)) {
                return borrowed.duplicate();
            }
        }
        try (NDArray longs = manager.create(host.values(), shape)) {
            ai.djl.ndarray.types.DataType target = djlType(host.type());
            return target == ai.djl.ndarray.types.DataType.INT64 ? longs.duplicate() : longs.toType(target, true);
        }
    }

    /** An engine integer or bool array as a host tensor of ONNX type {@code type}. */
    public static HostTensor toHost(NDArray array, DataType type) {
        long[] values;
        try (NDArray longs = array.toType(ai.djl.ndarray.types.DataType.INT64, true)) {
            values = longs.toLongArray();
        }
        return new HostTensor(type, array.getShape().getShape(), values);
    }

    /** An engine array as an ONNX tensor of type {@code type} (float types are converted; integers must fit). */
    public static TensorProto toTensor(String name, NDArray array, DataType type) {
        long[] dims = array.getShape().getShape();
        switch (type) {
            case FLOAT, FLOAT16, BFLOAT16 -> {
                float[] values;
                try (NDArray floats = array.toType(ai.djl.ndarray.types.DataType.FLOAT32, true)) {
                    values = floats.toFloatArray();
                }
                return switch (type) {
                    case FLOAT -> Tensors.ofFloats(name, dims, values);
                    case FLOAT16 -> Tensors.ofFloat16(name, dims, values);
                    default -> Tensors.ofBfloat16(name, dims, values);
                };
            }
            case DOUBLE -> {
                double[] values;
                try (NDArray doubles = array.toType(ai.djl.ndarray.types.DataType.FLOAT64, true)) {
                    values = doubles.toDoubleArray();
                }
                ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                buffer.asDoubleBuffer().put(values);
                return Tensors.raw(name, DataType.DOUBLE, dims, buffer);
            }
            default -> {
                long[] values;
                try (NDArray longs = array.toType(ai.djl.ndarray.types.DataType.INT64, true)) {
                    values = longs.toLongArray();
                }
                return ofIntegers(name, type, dims, values);
            }
        }
    }

    /** Integer values as an ONNX tensor of an integer (or bool) type; values are stored as that type stores them. */
    public static TensorProto ofIntegers(String name, DataType type, long[] dims, long[] values) {
        switch (type) {
            case INT8, UINT8, BOOL -> {
                byte[] bytes = new byte[values.length];
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] = (byte) values[i];
                }
                return Tensors.ofBytes(name, type, dims, bytes);
            }
            case INT4, UINT4 -> {
                byte[] nibbles = new byte[values.length];
                for (int i = 0; i < nibbles.length; i++) {
                    nibbles[i] = (byte) values[i];
                }
                return Tensors.ofNibbles(name, type, dims, nibbles);
            }
            case INT16, UINT16 -> {
                ByteBuffer buffer = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (long v : values) {
                    buffer.putShort((short) v);
                }
                return Tensors.raw(name, type, dims, buffer.flip());
            }
            case INT32, UINT32 -> {
                ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (long v : values) {
                    buffer.putInt((int) v);
                }
                return Tensors.raw(name, type, dims, buffer.flip());
            }
            case INT64, UINT64 -> {
                ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                buffer.asLongBuffer().put(values);
                return Tensors.raw(name, type, dims, buffer);
            }
            default -> throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "tensor '" + name + "'",
                    type.displayName() + " is not an integer type");
        }
    }
}
