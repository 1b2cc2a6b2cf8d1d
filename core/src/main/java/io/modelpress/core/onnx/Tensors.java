package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Typed access to {@link TensorProto} data wherever it is stored: {@code raw_data}, the typed repeated fields, or an
 * external file. All decoding goes through {@link #bytes}, which yields the little-endian raw layout ONNX defines.
 */
public final class Tensors {
    private Tensors() {
    }

    /** A row-major [rows, cols] matrix transposed to [cols, rows]. */
    public static float[] transpose(float[] values, int rows, int cols) {
        float[] out = new float[values.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = values[r * cols + c];
            }
        }
        return out;
    }

    public static long[] dims(TensorProto tensor) {
        return tensor.getDimsList().stream().mapToLong(Long::longValue).toArray();
    }

    /** Number of elements; throws if a dimension is negative or the product overflows. */
    public static long elementCount(TensorProto tensor) {
        return elementCount(dims(tensor), "tensor '" + tensor.getName() + "'");
    }

    public static long elementCount(long[] dims, String where) {
        long count = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new ModelPressException(ErrorCode.TENSOR_SHAPE_MISMATCH, where, "negative dimension " + d + " in shape " + Arrays.toString(dims));
            }
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, where, "shape " + Arrays.toString(dims) + " has more elements than can be counted");
            }
        }
        return count;
    }

    /** Bytes the tensor's type and shape require in raw layout, or -1 for strings. */
    public static long expectedBytes(TensorProto tensor) {
        DataType type = DataType.of(tensor);
        long elements = elementCount(tensor);
        try {
            return type.byteSize(elements);
        } catch (ArithmeticException e) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "tensor '" + tensor.getName() + "'", "declared size overflows");
        }
    }

    /** Number of entries the typed (non-raw) repeated field must hold for this tensor. */
    private static long expectedTypedEntries(DataType type, long elements) {
        return switch (type) {
            case COMPLEX64, COMPLEX128 -> elements * 2;
            case INT4, UINT4 -> (elements + 1) / 2;
            default -> elements;
        };
    }

    private static long typedEntries(TensorProto t, DataType type) {
        return switch (type) {
            case FLOAT, COMPLEX64 -> t.getFloatDataCount();
            case DOUBLE, COMPLEX128 -> t.getDoubleDataCount();
            case INT64 -> t.getInt64DataCount();
            case UINT32, UINT64 -> t.getUint64DataCount();
            case STRING -> t.getStringDataCount();
            default -> t.getInt32DataCount();
        };
    }

    /**
     * Checks that the stored data matches the declared type and shape, without decoding it.
     *
     * @param external where external data is resolved; null when the tensor cannot be external
     */
    public static void checkSize(TensorProto tensor, ExternalData external) {
        String where = "tensor '" + tensor.getName() + "'";
        DataType type = DataType.of(tensor);
        long elements = elementCount(tensor);
        if (ExternalData.isExternal(tensor)) {
            if (external == null) {
                throw new ModelPressException(ErrorCode.MISSING_EXTERNAL_DATA, where, "stored externally, but no model folder is known");
            }
            external.check(tensor, expectedBytes(tensor));
            return;
        }
        if (type == DataType.STRING) {
            if (tensor.getStringDataCount() != elements) {
                throw mismatch(where, tensor, tensor.getStringDataCount() + " strings");
            }
            return;
        }
        if (tensor.hasRawData()) {
            long expected = expectedBytes(tensor);
            if (tensor.getRawData().size() != expected) {
                throw mismatch(where, tensor, tensor.getRawData().size() + " bytes of raw_data (expected " + expected + ")");
            }
            return;
        }
        long entries = typedEntries(tensor, type);
        if (entries != expectedTypedEntries(type, elements)) {
            throw mismatch(where, tensor, entries + " values (expected " + expectedTypedEntries(type, elements) + ")");
        }
    }

    private static ModelPressException mismatch(String where, TensorProto t, String found) {
        return new ModelPressException(ErrorCode.TENSOR_SHAPE_MISMATCH, where, "declared " + DataType.of(t).displayName()
                + Arrays.toString(dims(t)) + " but holds " + found);
    }

    /** The tensor's data in ONNX raw layout (little-endian), whatever its storage. Not for strings. */
    public static ByteBuffer bytes(TensorProto tensor, ExternalData external) {
        checkSize(tensor, external);
        DataType type = DataType.of(tensor);
        if (type == DataType.STRING) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "tensor '" + tensor.getName() + "'", "string tensors have no numeric layout");
        }
        if (ExternalData.isExternal(tensor)) {
            return external.read(tensor, expectedBytes(tensor));
        }
        if (tensor.hasRawData()) {
            return tensor.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        long size = expectedBytes(tensor);
        if (size > Integer.MAX_VALUE) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "tensor '" + tensor.getName() + "'", "larger than 2 GiB");
        }
        ByteBuffer out = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case FLOAT, COMPLEX64 -> tensor.getFloatDataList().forEach(out::putFloat);
            case DOUBLE, COMPLEX128 -> tensor.getDoubleDataList().forEach(out::putDouble);
            case INT64 -> tensor.getInt64DataList().forEach(out::putLong);
            case UINT32 -> tensor.getUint64DataList().forEach(v -> out.putInt((int) (long) v));
            case UINT64 -> tensor.getUint64DataList().forEach(out::putLong);
            case INT32 -> tensor.getInt32DataList().forEach(out::putInt);
            case INT16, UINT16, FLOAT16, BFLOAT16 -> tensor.getInt32DataList().forEach(v -> out.putShort((short) (int) v));
            default -> tensor.getInt32DataList().forEach(v -> out.put((byte) (int) v)); // 8-bit, bool, fp8, packed 4-bit
        }
        return out.flip();
    }

    /** Decodes any real-valued or integer tensor to float32. */
    public static float[] toFloats(TensorProto tensor, ExternalData external) {
        ByteBuffer raw = bytes(tensor, external);
        DataType type = DataType.of(tensor);
        int n = toIntCount(tensor);
        float[] out = new float[n];
        switch (type) {
            case FLOAT -> raw.asFloatBuffer().get(out);
            case FLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float16.toFloat(raw.getShort(i * 2));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float16.bfloat16ToFloat(raw.getShort(i * 2));
                }
            }
            case DOUBLE -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) raw.getDouble(i * 8);
                }
            }
            default -> {
                long[] values = toLongs(tensor, external);
                for (int i = 0; i < n; i++) {
                    out[i] = values[i];
                }
            }
        }
        return out;
    }

    /** Decodes an integer or bool tensor to int64 values (uint64 above 2^63 wraps). */
    public static long[] toLongs(TensorProto tensor, ExternalData external) {
        ByteBuffer raw = bytes(tensor, external);
        DataType type = DataType.of(tensor);
        int n = toIntCount(tensor);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (type) {
                case INT8 -> raw.get(i);
                case UINT8, BOOL -> raw.get(i) & 0xff;
                case INT16 -> raw.getShort(i * 2);
                case UINT16 -> raw.getShort(i * 2) & 0xffff;
                case INT32 -> raw.getInt(i * 4);
                case UINT32 -> raw.getInt(i * 4) & 0xffffffffL;
                case INT64, UINT64 -> raw.getLong(i * 8);
                case INT4 -> (byte) (nibble(raw, i) << 4) >> 4;
                case UINT4 -> nibble(raw, i);
                default -> throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "tensor '" + tensor.getName() + "'",
                        type.displayName() + " values are not integers");
            };
        }
        return out;
    }

    private static int nibble(ByteBuffer raw, int index) {
        int b = raw.get(index / 2) & 0xff;
        return (index % 2 == 0) ? b & 0x0f : b >>> 4;
    }

    private static int toIntCount(TensorProto tensor) {
        long n = elementCount(tensor);
        if (n > Integer.MAX_VALUE - 8) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "tensor '" + tensor.getName() + "'",
                    n + " elements do not fit a Java array");
        }
        return (int) n;
    }

    // ---------------------------------------------------------------- builders

    public static TensorProto raw(String name, DataType type, long[] dims, ByteBuffer littleEndianData) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(type.onnxId());
        for (long d : dims) {
            b.addDims(d);
        }
        ByteBuffer data = littleEndianData.duplicate();
        b.setRawData(ByteString.copyFrom(data));
        TensorProto t = b.build();
        checkSize(t, null);
        return t;
    }

    public static TensorProto ofFloats(String name, long[] dims, float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        return raw(name, DataType.FLOAT, dims, buf);
    }

    public static TensorProto ofFloat16(String name, long[] dims, float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buf.putShort(Float16.fromFloat(v));
        }
        return raw(name, DataType.FLOAT16, dims, buf.flip());
    }

    public static TensorProto ofBfloat16(String name, long[] dims, float[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buf.putShort(Float16.floatToBfloat16(v));
        }
        return raw(name, DataType.BFLOAT16, dims, buf.flip());
    }

    /** int8, uint8 or bool values given as bytes (uint8 values are the unsigned reading of each byte). */
    public static TensorProto ofBytes(String name, DataType type, long[] dims, byte[] values) {
        if (type.bits() != 8) {
            throw new IllegalArgumentException(type + " is not an 8-bit type");
        }
        return raw(name, type, dims, ByteBuffer.wrap(values));
    }

    /** Packs 4-bit values (low nibble first) into an int4/uint4 tensor. */
    public static TensorProto ofNibbles(String name, DataType type, long[] dims, byte[] values) {
        if (type != DataType.INT4 && type != DataType.UINT4) {
            throw new IllegalArgumentException(type + " is not a 4-bit type");
        }
        byte[] packed = new byte[(values.length + 1) / 2];
        for (int i = 0; i < values.length; i++) {
            int v = values[i] & 0x0f;
            packed[i / 2] |= (byte) (i % 2 == 0 ? v : v << 4);
        }
        return raw(name, type, dims, ByteBuffer.wrap(packed));
    }

    public static TensorProto ofInts(String name, long[] dims, int[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asIntBuffer().put(values);
        return raw(name, DataType.INT32, dims, buf);
    }

    public static TensorProto ofLongs(String name, long[] dims, long[] values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.asLongBuffer().put(values);
        return raw(name, DataType.INT64, dims, buf);
    }

    public static TensorProto ofBools(String name, long[] dims, boolean[] values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) (values[i] ? 1 : 0);
        }
        return raw(name, DataType.BOOL, dims, ByteBuffer.wrap(bytes));
    }

    public static TensorProto scalarFloat(String name, float value) {
        return ofFloats(name, new long[0], new float[] {value});
    }

    public static TensorProto scalarLong(String name, long value) {
        return ofLongs(name, new long[0], new long[] {value});
    }
}
