package io.modelpress.core.data;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Float16;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * A dense tensor in Java heap memory: an element type, a shape and one primitive buffer in C (row-major) order.
 * It is what datasets produce and what a model session consumes and returns. Supported types: float, double, float16,
 * bfloat16 (both stored as raw 16-bit patterns), int64, int32, int8, uint8 and bool (one byte, 0 or 1).
 */
public final class HostArray {
    private final DataType type;
    private final long[] shape;
    private final Buffer data;

    private HostArray(DataType type, long[] shape, Buffer data) {
        this.type = type;
        this.shape = shape.clone();
        this.data = data;
        if (data.capacity() != elementCount(shape)) {
            throw new IllegalArgumentException("buffer of " + data.capacity() + " elements for shape " + Arrays.toString(shape));
        }
    }

    /** A zero-filled array. Throws {@link ErrorCode#LIMIT_EXCEEDED} beyond 2^31-1 elements. */
    public static HostArray zeros(DataType type, long... shape) {
        long count = elementCount(shape);
        if (count > Integer.MAX_VALUE) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "array of shape " + shapeString(shape),
                    "has " + count + " elements, more than one array can hold (2^31-1); use a smaller batch");
        }
        int n = (int) count;
        Buffer buffer = switch (type) {
            case FLOAT -> FloatBuffer.allocate(n);
            case DOUBLE -> DoubleBuffer.allocate(n);
            case FLOAT16, BFLOAT16 -> ShortBuffer.allocate(n);
            case INT64 -> LongBuffer.allocate(n);
            case INT32 -> IntBuffer.allocate(n);
            case INT8, UINT8, BOOL -> ByteBuffer.allocate(n);
            default -> throw new ModelPressException(ErrorCode.DATA_MISMATCH, "element type " + type.displayName(),
                    "is not supported for model inputs and outputs (supported: float, double, float16, bfloat16, int64, int32, int8, uint8, bool)");
        };
        return new HostArray(type, shape, buffer);
    }

    public static HostArray of(float[] values, long... shape) {
        return new HostArray(DataType.FLOAT, shape, FloatBuffer.wrap(values));
    }

    public static HostArray of(long[] values, long... shape) {
        return new HostArray(DataType.INT64, shape, LongBuffer.wrap(values));
    }

    public static HostArray of(int[] values, long... shape) {
        return new HostArray(DataType.INT32, shape, IntBuffer.wrap(values));
    }

    public DataType type() {
        return type;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public int elementCount() {
        return data.capacity();
    }

    /** The backing buffer (FloatBuffer, DoubleBuffer, ShortBuffer, LongBuffer, IntBuffer or ByteBuffer). */
    public Buffer buffer() {
        return data;
    }

    /** Element {@code index} (flat, C order) as a double; float16 and bfloat16 are decoded, uint8 is unsigned. */
    public double get(int index) {
        return switch (type) {
            case FLOAT -> ((FloatBuffer) data).get(index);
            case DOUBLE -> ((DoubleBuffer) data).get(index);
            case FLOAT16 -> Float16.toFloat(((ShortBuffer) data).get(index));
            case BFLOAT16 -> Float16.bfloat16ToFloat(((ShortBuffer) data).get(index));
            case INT64 -> ((LongBuffer) data).get(index);
            case INT32 -> ((IntBuffer) data).get(index);
            case INT8, BOOL -> ((ByteBuffer) data).get(index);
            case UINT8 -> ((ByteBuffer) data).get(index) & 0xff;
            default -> throw new IllegalStateException(type.toString());
        };
    }

    /** Element {@code index} as a long; exact for integer types (floats are truncated toward zero). */
    public long getLong(int index) {
        return type == DataType.INT64 ? ((LongBuffer) data).get(index) : (long) get(index);
    }

    /** Stores {@code value} at {@code index}, converted to this array's type (integers round toward zero, bool is value != 0). */
    public void set(int index, double value) {
        switch (type) {
            case FLOAT -> ((FloatBuffer) data).put(index, (float) value);
            case DOUBLE -> ((DoubleBuffer) data).put(index, value);
            case FLOAT16 -> ((ShortBuffer) data).put(index, Float16.fromFloat((float) value));
            case BFLOAT16 -> ((ShortBuffer) data).put(index, Float16.floatToBfloat16((float) value));
            case INT64 -> ((LongBuffer) data).put(index, (long) value);
            case INT32 -> ((IntBuffer) data).put(index, (int) value);
            case INT8, UINT8 -> ((ByteBuffer) data).put(index, (byte) (long) value);
            case BOOL -> ((ByteBuffer) data).put(index, (byte) (value != 0 ? 1 : 0));
            default -> throw new IllegalStateException(type.toString());
        }
    }

    /** Stores an integer exactly (int64 values beyond 2^53 survive, unlike {@link #set}). */
    public void setLong(int index, long value) {
        if (type == DataType.INT64) {
            ((LongBuffer) data).put(index, value);
        } else {
            set(index, value);
        }
    }

    /** All elements as floats (a copy). */
    public float[] toFloats() {
        float[] out = new float[elementCount()];
        if (type == DataType.FLOAT) {
            ((FloatBuffer) data).get(0, out);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) get(i);
            }
        }
        return out;
    }

    /** This array in another element type (itself when the type already matches). */
    public HostArray convertTo(DataType target) {
        if (target == type) {
            return this;
        }
        HostArray out = zeros(target, shape);
        int n = elementCount();
        boolean exactLongs = type == DataType.INT64 || target == DataType.INT64;
        for (int i = 0; i < n; i++) {
            if (exactLongs && !type.isFloatingPoint()) {
                out.setLong(i, getLong(i));
            } else {
                out.set(i, get(i));
            }
        }
        return out;
    }

    /** Entries {@code start .. start + count - 1} along {@code axis} (a copy); with {@code count} entries at that axis. */
    public HostArray slice(int axis, long start, long count) {
        if (start < 0 || count < 0 || start + count > shape[axis]) {
            throw new IllegalArgumentException("entries " + start + "+" + count + " of axis " + axis + " of " + this);
        }
        long[] outShape = shape.clone();
        outShape[axis] = count;
        HostArray out = zeros(type, outShape);
        int inner = (int) elementCount(Arrays.copyOfRange(shape, axis + 1, shape.length));
        int outer = (int) elementCount(Arrays.copyOfRange(shape, 0, axis));
        for (int o = 0; o < outer; o++) {
            copy(this, (int) ((o * shape[axis] + start) * inner), out, (int) (o * count * inner), (int) (count * inner));
        }
        return out;
    }

    /** This array, whose length at {@code axis} is 1, repeated {@code times} along that axis. */
    public HostArray repeat(int axis, long times) {
        if (shape[axis] != 1) {
            throw new IllegalArgumentException("repeating axis " + axis + " of " + this);
        }
        long[] outShape = shape.clone();
        outShape[axis] = times;
        HostArray out = zeros(type, outShape);
        int inner = (int) elementCount(Arrays.copyOfRange(shape, axis + 1, shape.length));
        int outer = (int) elementCount(Arrays.copyOfRange(shape, 0, axis));
        for (int o = 0; o < outer; o++) {
            for (int t = 0; t < times; t++) {
                copy(this, o * inner, out, (int) ((o * times + t) * inner), inner);
            }
        }
        return out;
    }

    /** This array with {@code axis} moved to the front (a copy; itself for axis 0), e.g. [2,batch,128] to [batch,2,128]. */
    public HostArray axisFirst(int axis) {
        if (axis == 0) {
            return this;
        }
        long[] outShape = new long[shape.length];
        outShape[0] = shape[axis];
        for (int i = 0, o = 1; i < shape.length; i++) {
            if (i != axis) {
                outShape[o++] = shape[i];
            }
        }
        HostArray out = zeros(type, outShape);
        int perEntry = (int) (elementCount(shape) / Math.max(1, shape[axis]));
        for (int entry = 0; entry < shape[axis]; entry++) {
            copy(slice(axis, entry, 1), 0, out, entry * perEntry, perEntry);
        }
        return out;
    }

    /** Copies {@code length} elements between arrays of the same type. */
    private static void copy(HostArray from, int fromIndex, HostArray to, int toIndex, int length) {
        switch (from.type) {
            case FLOAT -> ((FloatBuffer) to.data).put(toIndex, (FloatBuffer) from.data, fromIndex, length);
            case DOUBLE -> ((DoubleBuffer) to.data).put(toIndex, (DoubleBuffer) from.data, fromIndex, length);
            case FLOAT16, BFLOAT16 -> ((ShortBuffer) to.data).put(toIndex, (ShortBuffer) from.data, fromIndex, length);
            case INT64 -> ((LongBuffer) to.data).put(toIndex, (LongBuffer) from.data, fromIndex, length);
            case INT32 -> ((IntBuffer) to.data).put(toIndex, (IntBuffer) from.data, fromIndex, length);
            case INT8, UINT8, BOOL -> ((ByteBuffer) to.data).put(toIndex, (ByteBuffer) from.data, fromIndex, length);
            default -> throw new IllegalStateException(from.type.toString());
        }
    }

    public static long elementCount(long[] shape) {
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, d);
        }
        return count;
    }

    /** Shape as users read it: {@code [32,128]}. */
    public static String shapeString(long[] shape) {
        return Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(",", "[", "]"));
    }

    @Override
    public String toString() {
        return type.displayName() + shapeString(shape);
    }
}
