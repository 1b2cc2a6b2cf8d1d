package io.modelpress.train.onnx;

import io.modelpress.core.onnx.DataType;

import java.util.Arrays;
import java.util.List;
import java.util.function.LongBinaryOperator;

/**
 * A small integer or bool tensor held in Java memory. Exporters compute shapes as data (Shape, Gather, Unsqueeze,
 * Concat, then Reshape); those chains run here instead of as many tiny native calls, and the shapes they produce are
 * at hand when Reshape or Expand needs them. Values are kept as int64 whatever the ONNX integer type (bool as 0/1).
 */
public record HostTensor(DataType type, long[] shape, long[] values) {
    /** Integer tensors up to this many elements stay on the host; larger ones go to the engine. */
    public static final int MAX_ELEMENTS = 4096;

    public HostTensor {
        if (size(shape) != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " does not hold " + values.length + " values");
        }
    }

    public static HostTensor scalar(long value) {
        return new HostTensor(DataType.INT64, new long[0], new long[] {value});
    }

    public static HostTensor vector(long... values) {
        return new HostTensor(DataType.INT64, new long[] {values.length}, values.clone());
    }

    public static boolean isHostType(DataType type) {
        return switch (type) {
            case INT8, UINT8, INT16, UINT16, INT32, UINT32, INT64, UINT64, BOOL -> true;
            default -> false;
        };
    }

    public static long size(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public int rank() {
        return shape.length;
    }

    public int size() {
        return values.length;
    }

    public HostTensor reshape(long[] newShape) {
        return new HostTensor(type, newShape, values);
    }

    public HostTensor withType(DataType newType) {
        long[] out = new long[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = wrap(values[i], newType);
        }
        return new HostTensor(newType, shape, out);
    }

    /** The value as {@code type} stores it (C-style wrap-around, as ONNX Runtime casts). */
    static long wrap(long v, DataType type) {
        return switch (type) {
            case INT8 -> (byte) v;
            case UINT8 -> v & 0xff;
            case INT16 -> (short) v;
            case UINT16 -> v & 0xffff;
            case INT32 -> (int) v;
            case UINT32 -> v & 0xffffffffL;
            case BOOL -> v != 0 ? 1 : 0;
            default -> v;
        };
    }

    // ------------------------------------------------------------------ broadcasting

    /** Numpy broadcasting of two shapes; null when they do not broadcast. */
    public static long[] broadcastShape(long[] a, long[] b) {
        int rank = Math.max(a.length, b.length);
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            long da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            long db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                return null;
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** This tensor's values repeated to {@code target} (which it must broadcast to). */
    public HostTensor broadcastTo(long[] target) {
        if (Arrays.equals(shape, target)) {
            return this;
        }
        int rank = target.length;
        long[] strides = new long[rank];
        long stride = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            int t = i + rank - shape.length;
            strides[t] = shape[i] == 1 ? 0 : stride;
            stride *= shape[i];
        }
        long[] out = new long[Math.toIntExact(size(target))];
        long[] index = new long[rank];
        for (int o = 0; o < out.length; o++) {
            long offset = 0;
            for (int d = 0; d < rank; d++) {
                offset += index[d] * strides[d];
            }
            out[o] = values[(int) offset];
            increment(index, target);
        }
        return new HostTensor(type, target, out);
    }

    private static void increment(long[] index, long[] shape) {
        for (int d = shape.length - 1; d >= 0; d--) {
            if (++index[d] < shape[d]) {
                return;
            }
            index[d] = 0;
        }
    }

    /** Elementwise {@code op} with numpy broadcasting; the result has {@code resultType}. */
    public static HostTensor combine(HostTensor a, HostTensor b, DataType resultType, LongBinaryOperator op) {
        long[] shape = broadcastShape(a.shape, b.shape);
        if (shape == null) {
            throw new IllegalArgumentException("shapes " + Arrays.toString(a.shape) + " and " + Arrays.toString(b.shape)
                    + " do not broadcast");
        }
        long[] x = a.broadcastTo(shape).values;
        long[] y = b.broadcastTo(shape).values;
        long[] out = new long[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = wrap(op.applyAsLong(x[i], y[i]), resultType);
        }
        return new HostTensor(resultType, shape, out);
    }

    public static HostTensor where(HostTensor condition, HostTensor x, HostTensor y) {
        long[] shape = broadcastShape(broadcastShape(condition.shape, x.shape), y.shape);
        long[] c = condition.broadcastTo(shape).values;
        long[] a = x.broadcastTo(shape).values;
        long[] b = y.broadcastTo(shape).values;
        long[] out = new long[c.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = c[i] != 0 ? a[i] : b[i];
        }
        return new HostTensor(x.type, shape, out);
    }

    // ------------------------------------------------------------------ indexing

    /** ONNX Gather: the entries at {@code indices} (negative counts from the end) along {@code axis}. */
    public HostTensor gather(HostTensor indices, int axis) {
        long axisLength = shape[axis];
        long outer = size(Arrays.copyOfRange(shape, 0, axis));
        long inner = size(Arrays.copyOfRange(shape, axis + 1, shape.length));
        long[] outShape = new long[shape.length - 1 + indices.rank()];
        System.arraycopy(shape, 0, outShape, 0, axis);
        System.arraycopy(indices.shape, 0, outShape, axis, indices.rank());
        System.arraycopy(shape, axis + 1, outShape, axis + indices.rank(), shape.length - axis - 1);
        long[] out = new long[Math.toIntExact(size(outShape))];
        int o = 0;
        for (long a = 0; a < outer; a++) {
            for (long raw : indices.values) {
                long index = raw < 0 ? raw + axisLength : raw;
                if (index < 0 || index >= axisLength) {
                    throw new IllegalArgumentException("index " + raw + " is out of range for axis " + axis + " of length " + axisLength);
                }
                long base = (a * axisLength + index) * inner;
                for (long i = 0; i < inner; i++) {
                    out[o++] = values[(int) (base + i)];
                }
            }
        }
        return new HostTensor(type, outShape, out);
    }

    public static HostTensor concat(List<HostTensor> parts, int axis) {
        HostTensor first = parts.get(0);
        long[] outShape = first.shape.clone();
        outShape[axis] = 0;
        for (HostTensor part : parts) {
            outShape[axis] += part.shape[axis];
        }
        long outer = size(Arrays.copyOfRange(outShape, 0, axis));
        long[] out = new long[Math.toIntExact(size(outShape))];
        int o = 0;
        for (long a = 0; a < outer; a++) {
            for (HostTensor part : parts) {
                int block = Math.toIntExact(size(Arrays.copyOfRange(part.shape, axis, part.shape.length)));
                System.arraycopy(part.values, (int) (a * block), out, o, block);
                o += block;
            }
        }
        return new HostTensor(first.type, outShape, out);
    }

    /** Elements {@code start, start + step, ...} (before {@code end}) of each axis; arguments already clamped. */
    public HostTensor slice(long[] starts, long[] steps, long[] counts) {
        long[] strides = strides(shape);
        long[] out = new long[Math.toIntExact(size(counts))];
        long[] index = new long[counts.length];
        for (int o = 0; o < out.length; o++) {
            long offset = 0;
            for (int d = 0; d < counts.length; d++) {
                offset += (starts[d] + index[d] * steps[d]) * strides[d];
            }
            out[o] = values[(int) offset];
            increment(index, counts);
        }
        return new HostTensor(type, counts, out);
    }

    public HostTensor transpose(int[] perm) {
        long[] strides = strides(shape);
        long[] outShape = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            outShape[i] = shape[perm[i]];
        }
        long[] out = new long[values.length];
        long[] index = new long[perm.length];
        for (int o = 0; o < out.length; o++) {
            long offset = 0;
            for (int d = 0; d < perm.length; d++) {
                offset += index[d] * strides[perm[d]];
            }
            out[o] = values[(int) offset];
            increment(index, outShape);
        }
        return new HostTensor(type, outShape, out);
    }

    static long[] strides(long[] shape) {
        long[] strides = new long[shape.length];
        long stride = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride *= shape[i];
        }
        return strides;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HostTensor t && t.type == type && Arrays.equals(t.shape, shape) && Arrays.equals(t.values, values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return type.displayName() + Arrays.toString(shape) + (values.length <= 16 ? Arrays.toString(values) : "");
    }
}
