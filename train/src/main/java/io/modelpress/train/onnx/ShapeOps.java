package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Shape, indexing and type operators. Where all inputs are host values (shape arithmetic as exporters emit it for
 * dynamic shapes) they compute on the host; otherwise on the engine, with gradients.
 */
final class ShapeOps {
    private ShapeOps() {
    }

    static void register(OperatorRegistry r) {
        r.register("Shape", ShapeOps::shape);
        r.register("Size", node -> ElementwiseOps.one(HostTensor.scalar(HostTensor.size(node.value(0).shape()))));
        r.register("Reshape", node -> {
            long[] target = reshapeTarget(node, node.value(0).shape(), node.longs(1), node.attr("allowzero", 0L) != 0);
            return List.of(reshape(node.value(0), target));
        });
        r.register("Flatten", ShapeOps::flatten);
        r.register("Squeeze", ShapeOps::squeeze);
        r.register("Unsqueeze", ShapeOps::unsqueeze);
        r.register("Transpose", ShapeOps::transpose);
        r.register("Concat", ShapeOps::concat);
        r.register("Split", ShapeOps::split);
        r.register("Slice", ShapeOps::slice);
        r.register("Gather", ShapeOps::gather);
        r.register("Expand", ShapeOps::expand);
        r.register("Cast", node -> cast(node, DataType.fromOnnx((int) node.attr("to", (long) DataType.FLOAT.onnxId()))));
        r.register("CastLike", node -> cast(node, node.value(1).type()));
        r.register("ConstantOfShape", ShapeOps::constantOfShape);
        r.register("Range", ShapeOps::range);
        r.register("Identity", node -> List.of(node.value(0)));
        // Constant nodes become constants when the model is loaded; only forms with no numeric value get here
        r.register("Constant", node -> {
            throw node.unsupported("a Constant node without a numeric tensor value (sparse or string)");
        });
    }

    /** A value reshaped, on the host or on the engine (a view: gradients pass). */
    static Value reshape(Value value, long[] shape) {
        return value.isHost() ? Value.of(value.host().reshape(shape)) : value.withArray(value.array().reshape(new Shape(shape)));
    }

    private static List<Value> shape(NodeContext node) {
        long[] dims = node.value(0).shape();
        int rank = dims.length;
        long start = clampAxis(node.attr("start", 0L), rank);
        long end = node.hasAttribute("end") ? clampAxis(node.attr("end", (long) rank), rank) : rank;
        return ElementwiseOps.one(HostTensor.vector(Arrays.copyOfRange(dims, (int) start, (int) Math.max(start, end))));
    }

    private static long clampAxis(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        return Math.max(0, Math.min(rank, a));
    }

    /** 0 copies the input's dimension (unless allowzero), -1 takes what is left. */
    static long[] reshapeTarget(NodeContext node, long[] input, long[] requested, boolean allowZero) {
        long[] out = requested.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == 0 && !allowZero) {
                if (i >= input.length) {
                    throw node.invalid("shape " + Arrays.toString(requested) + " copies dimension " + i + " of a rank-" + input.length + " input");
                }
                out[i] = input[i];
            }
            if (out[i] == -1) {
                if (inferred >= 0) {
                    throw node.invalid("shape " + Arrays.toString(requested) + " has more than one -1");
                }
                inferred = i;
            } else {
                known *= out[i];
            }
        }
        long total = HostTensor.size(input);
        if (inferred >= 0) {
            if (known == 0 || total % known != 0) {
                throw node.invalid("cannot reshape " + Arrays.toString(input) + " to " + Arrays.toString(requested));
            }
            out[inferred] = total / known;
        } else if (known != total) {
            throw node.invalid("cannot reshape " + Arrays.toString(input) + " (" + total + " elements) to " + Arrays.toString(requested));
        }
        return out;
    }

    private static List<Value> flatten(NodeContext node) {
        long[] dims = node.value(0).shape();
        long axis = node.attr("axis", 1L);
        if (axis < 0) {
            axis += dims.length;
        }
        if (axis < 0 || axis > dims.length) {
            throw node.invalid("axis " + node.attr("axis", 1L) + " is out of range for rank " + dims.length);
        }
        long outer = HostTensor.size(Arrays.copyOfRange(dims, 0, (int) axis));
        long inner = HostTensor.size(Arrays.copyOfRange(dims, (int) axis, dims.length));
        return List.of(reshape(node.value(0), new long[] {outer, inner}));
    }

    /** Axes are an attribute before opset 13, an (optional) input since. */
    private static long[] axes(NodeContext node, int inputIndex) {
        if (node.opset() < 13) {
            return node.ints("axes");
        }
        return node.has(inputIndex) ? node.longs(inputIndex) : null;
    }

    private static List<Value> squeeze(NodeContext node) {
        long[] dims = node.value(0).shape();
        long[] axes = axes(node, 1);
        boolean[] drop = new boolean[dims.length];
        if (axes == null) {
            for (int i = 0; i < dims.length; i++) {
                drop[i] = dims[i] == 1;
            }
        } else {
            for (long a : axes) {
                int axis = node.axis(a, dims.length);
                if (dims[axis] != 1) {
                    throw node.invalid("cannot squeeze axis " + a + " of size " + dims[axis]);
                }
                drop[axis] = true;
            }
        }
        long[] out = new long[dims.length];
        int n = 0;
        for (int i = 0; i < dims.length; i++) {
            if (!drop[i]) {
                out[n++] = dims[i];
            }
        }
        return List.of(reshape(node.value(0), Arrays.copyOf(out, n)));
    }

    private static List<Value> unsqueeze(NodeContext node) {
        long[] dims = node.value(0).shape();
        long[] axes = axes(node, 1);
        if (axes == null) {
            throw node.invalid("axes are required");
        }
        int rank = dims.length + axes.length;
        boolean[] inserted = new boolean[rank];
        for (long a : axes) {
            int axis = node.axis(a, rank);
            if (inserted[axis]) {
                throw node.invalid("axis " + a + " appears twice");
            }
            inserted[axis] = true;
        }
        long[] out = new long[rank];
        int next = 0;
        for (int i = 0; i < rank; i++) {
            out[i] = inserted[i] ? 1 : dims[next++];
        }
        return List.of(reshape(node.value(0), out));
    }

    private static List<Value> transpose(NodeContext node) {
        Value x = node.value(0);
        int rank = x.shape().length;
        long[] given = node.ints("perm");
        int[] perm = new int[rank];
        for (int i = 0; i < rank; i++) {
            perm[i] = given == null ? rank - 1 - i : node.axis(given[i], rank);
        }
        if (x.isHost()) {
            return ElementwiseOps.one(x.host().transpose(perm));
        }
        return List.of(x.withArray(x.array().transpose(perm)));
    }

    private static List<Value> concat(NodeContext node) {
        int rank = node.value(0).shape().length;
        int axis = node.axis(node.attr("axis", 0L), rank);
        if (node.allHost()) {
            List<HostTensor> parts = new ArrayList<>();
            for (int i = 0; i < node.inputCount(); i++) {
                parts.add(node.host(i));
            }
            return ElementwiseOps.one(HostTensor.concat(parts, axis));
        }
        NDList parts = new NDList();
        for (int i = 0; i < node.inputCount(); i++) {
            parts.add(node.array(i));
        }
        return List.of(Value.of(NDArrays.concat(parts, axis), node.value(0).type()));
    }

    private static List<Value> split(NodeContext node) {
        Value x = node.value(0);
        long[] dims = x.shape();
        int axis = node.axis(node.attr("axis", 0L), dims.length);
        long[] sizes = node.opset() < 13 ? node.ints("split") : node.has(1) ? node.longs(1) : null;
        int parts = node.outputCount();
        if (sizes == null) {
            long chunk = node.hasAttribute("num_outputs")
                    ? (dims[axis] + node.attr("num_outputs", 1L) - 1) / node.attr("num_outputs", 1L)
                    : (dims[axis] + parts - 1) / parts;
            sizes = new long[parts];
            long left = dims[axis];
            for (int i = 0; i < parts; i++) {
                sizes[i] = Math.min(chunk, left);
                left -= sizes[i];
            }
        }
        if (sizes.length != parts || Arrays.stream(sizes).sum() != dims[axis]) {
            throw node.invalid("split sizes " + Arrays.toString(sizes) + " do not cut axis " + axis + " of length "
                    + dims[axis] + " into " + parts + " outputs");
        }
        List<Value> out = new ArrayList<>();
        long start = 0;
        for (long size : sizes) {
            long[] starts = new long[dims.length];
            long[] steps = new long[dims.length];
            long[] counts = dims.clone();
            Arrays.fill(steps, 1);
            starts[axis] = start;
            counts[axis] = size;
            out.add(sliced(x, starts, steps, counts));
            start += size;
        }
        return out;
    }

    /**
     * ONNX Slice: starts, ends, axes and steps (attributes before opset 10, inputs since), negative positions
     * counting from the end, ends clamped, negative steps walking backwards.
     */
    private static List<Value> slice(NodeContext node) {
        Value x = node.value(0);
        long[] dims = x.shape();
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps;
        if (node.opset() < 10) {
            starts = node.ints("starts");
            ends = node.ints("ends");
            axes = node.ints("axes");
            steps = null;
        } else {
            starts = node.longs(1);
            ends = node.longs(2);
            axes = node.has(3) ? node.longs(3) : null;
            steps = node.has(4) ? node.longs(4) : null;
        }
        if (starts == null || ends == null || starts.length != ends.length) {
            throw node.invalid("starts and ends must be given, of equal length");
        }
        long[] fromStart = new long[dims.length];
        long[] step = new long[dims.length];
        long[] counts = dims.clone();
        Arrays.fill(step, 1);
        for (int i = 0; i < starts.length; i++) {
            int axis = node.axis(axes == null ? i : axes[i], dims.length);
            long s = steps == null ? 1 : steps[i];
            if (s == 0) {
                throw node.invalid("step 0 on axis " + axis);
            }
            long dim = dims[axis];
            long begin = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            long count;
            if (s > 0) {
                begin = Math.max(0, Math.min(dim, begin));
                end = Math.max(0, Math.min(dim, end));
                count = end > begin ? (end - begin + s - 1) / s : 0;
            } else {
                begin = Math.max(0, Math.min(dim - 1, begin));
                end = Math.max(-1, Math.min(dim - 1, end));
                count = begin > end ? (begin - end - s - 1) / -s : 0;
            }
            fromStart[axis] = begin;
            step[axis] = s;
            counts[axis] = count;
        }
        return List.of(sliced(x, fromStart, step, counts));
    }

    /** {@code counts[d]} elements from {@code starts[d]} by {@code steps[d]} along each axis (arguments valid). */
    private static Value sliced(Value x, long[] starts, long[] steps, long[] counts) {
        if (x.isHost()) {
            return Value.of(x.host().slice(starts, steps, counts));
        }
        NDArray array = x.array();
        long[] dims = array.getShape().getShape();
        int[] reversed = java.util.stream.IntStream.range(0, dims.length).filter(d -> steps[d] < 0).toArray();
        if (reversed.length > 0) {
            array = array.flip(reversed);
        }
        NDIndex index = new NDIndex();
        for (int d = 0; d < dims.length; d++) {
            long step = Math.abs(steps[d]);
            long start = steps[d] < 0 ? dims[d] - 1 - starts[d] : starts[d];
            if (counts[d] == 0) {
                index.addSliceDim(0, 0);
            } else if (step == 1) {
                index.addSliceDim(start, start + counts[d]);
            } else {
                index.addSliceDim(start, start + (counts[d] - 1) * step + 1, step);
            }
        }
        return x.withArray(array.get(index));
    }

    private static List<Value> gather(NodeContext node) {
        Value data = node.value(0);
        int axis = node.axis(node.attr("axis", 0L), data.shape().length);
        if (data.isHost()) {
            try {
                return ElementwiseOps.one(data.host().gather(node.host(1), axis));
            } catch (IllegalArgumentException e) {
                throw node.invalid(e.getMessage());
            }
        }
        NDArray indices = node.array(1).toType(ai.djl.ndarray.types.DataType.INT64, false);
        NDIndex index = new NDIndex().addAllDim(axis).addIndices("{}", indices);
        return List.of(data.withArray(data.array().get(index)));
    }

    private static List<Value> expand(NodeContext node) {
        Value x = node.value(0);
        long[] shape = HostTensor.broadcastShape(x.shape(), node.longs(1));
        if (shape == null) {
            throw node.invalid("cannot expand " + Arrays.toString(x.shape()) + " to " + Arrays.toString(node.longs(1)));
        }
        if (x.isHost() && HostTensor.size(shape) <= HostTensor.MAX_ELEMENTS) {
            return ElementwiseOps.one(x.host().broadcastTo(shape));
        }
        return List.of(Value.of(node.array(0).broadcast(new Shape(shape)), x.type()));
    }

    private static List<Value> cast(NodeContext node, DataType target) {
        if (target == DataType.STRING) {
            throw node.unsupported("Cast to string");
        }
        Value x = node.value(0);
        if (x.isHost() && HostTensor.isHostType(target)) {
            return ElementwiseOps.one(x.host().withType(target));
        }
        NDArray array = node.array(0);
        return List.of(Value.of(OnnxTensors.cast(array, OnnxTensors.djlType(target)), target));
    }

    private static List<Value> constantOfShape(NodeContext node) {
        long[] shape = node.longs(0);
        TensorProto value = node.tensorAttr("value").orElse(Tensors.ofFloats("value", new long[] {1}, new float[] {0}));
        DataType type = DataType.of(value);
        if (HostTensor.isHostType(type) && HostTensor.size(shape) <= HostTensor.MAX_ELEMENTS) {
            long[] values = new long[(int) HostTensor.size(shape)];
            Arrays.fill(values, Tensors.toLongs(value, null)[0]);
            return ElementwiseOps.one(new HostTensor(type, shape, values));
        }
        float fill = Tensors.toFloats(value, null)[0];
        NDArray filled = node.manager().full(new Shape(shape), fill, OnnxTensors.djlType(type));
        return List.of(Value.of(filled, type));
    }

    private static List<Value> range(NodeContext node) {
        if (node.allHost()) {
            long start = node.host(0).values()[0];
            long limit = node.host(1).values()[0];
            long delta = node.host(2).values()[0];
            if (delta == 0) {
                throw node.invalid("delta is 0");
            }
            int count = (int) Math.max(0, (limit - start + delta + (delta > 0 ? -1 : 1)) / delta);
            long[] values = new long[count];
            for (int i = 0; i < count; i++) {
                values[i] = start + i * delta;
            }
            return ElementwiseOps.one(new HostTensor(node.value(0).type(), new long[] {count}, values));
        }
        double start = node.scalar(0);
        double limit = node.scalar(1);
        double delta = node.scalar(2);
        long count = (long) Math.max(0, Math.ceil((limit - start) / delta));
        NDArray steps = node.manager().arange(0, (int) count, 1, ai.djl.ndarray.types.DataType.FLOAT64);
        NDArray values = steps.mul(delta).add(start);
        return List.of(Value.of(values.toType(node.array(0).getDataType(), false), node.value(0).type()));
    }
}
