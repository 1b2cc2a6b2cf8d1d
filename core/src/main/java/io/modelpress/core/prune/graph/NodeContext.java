package io.modelpress.core.prune.graph;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** One node as its {@link OpHandler} sees it: its inputs' channels, shapes and constants, and the actions it may take. */
public final class NodeContext {
    private final ChannelGraph graph;
    private final OnnxModel model;
    private final GraphIndex index;
    private final Map<String, long[]> shapes;
    private final Map<String, TensorProto> constants;
    private final int position;
    private final NodeProto node;

    NodeContext(ChannelGraph graph, OnnxModel model, GraphIndex index, Map<String, long[]> shapes,
                Map<String, TensorProto> constants, int position) {
        this.graph = graph;
        this.model = model;
        this.index = index;
        this.shapes = shapes;
        this.constants = constants;
        this.position = position;
        this.node = index.node(position);
    }

    // ------------------------------------------------------------------ the node

    /** The graph the node belongs to, as analysed. */
    public GraphIndex index() {
        return index;
    }

    public NodeProto node() {
        return node;
    }

    public int position() {
        return position;
    }

    public String opType() {
        return node.getOpType();
    }

    /** "Conv 'layer1.conv'", for reasons. */
    public String describe() {
        return node.getOpType() + " '" + Graphs.nodeLabel(node) + "'";
    }

    /** Version of the default operator set. */
    public long opset() {
        return model.opset("");
    }

    public int inputCount() {
        return node.getInputCount();
    }

    public int outputCount() {
        return node.getOutputCount();
    }

    /** True when input {@code i} is given (not omitted). */
    public boolean has(int i) {
        return i < node.getInputCount() && !node.getInput(i).isEmpty();
    }

    public String input(int i) {
        return node.getInput(i);
    }

    public String output(int i) {
        return node.getOutput(i);
    }

    /** Channels carried by input {@code i}, or null. */
    public Labels labels(int i) {
        return has(i) ? graph.labels(node.getInput(i)) : null;
    }

    public boolean anyInputLabeled() {
        for (int i = 0; i < node.getInputCount(); i++) {
            if (labels(i) != null) {
                return true;
            }
        }
        return false;
    }

    /** Concrete dims of a value (symbolic dims at the analysis's assumed sizes), or null when unknown. */
    public long[] dims(String value) {
        return shapes.get(value);
    }

    public long[] inputDims(int i) {
        return has(i) ? shapes.get(node.getInput(i)) : null;
    }

    public long[] outputDims(int i) {
        return i < node.getOutputCount() && !node.getOutput(i).isEmpty() ? shapes.get(node.getOutput(i)) : null;
    }

    public boolean isConstant(int i) {
        return has(i) && constants.containsKey(node.getInput(i));
    }

    public Optional<TensorProto> constant(int i) {
        return has(i) ? Optional.ofNullable(constants.get(node.getInput(i))) : Optional.empty();
    }

    /** An integer constant input's values, or null when the input is absent or not a constant integer tensor. */
    public long[] longs(int i) {
        return constant(i).filter(t -> !DataType.of(t).isFloatingPoint() && DataType.of(t) != DataType.STRING)
                .map(t -> model.longs(t)).orElse(null);
    }

    /** A constant value's integers by value name, or null. */
    public long[] longsOf(String value) {
        TensorProto t = constants.get(value);
        return t == null || DataType.of(t).isFloatingPoint() || DataType.of(t) == DataType.STRING ? null : model.longs(t);
    }

    public long[] dimsOfConstant(int i) {
        return constant(i).map(Tensors::dims).orElse(null);
    }

    public long intAttribute(String name, long fallback) {
        return Nodes.intAttribute(node, name, fallback);
    }

    public Optional<long[]> intsAttribute(String name) {
        return Nodes.intsAttribute(node, name);
    }

    /** True when the value is a graph output or read inside a subgraph (its value must not change). */
    public boolean leavesTheGraph(String value) {
        if (index.isGraphOutput(value)) {
            return true;
        }
        for (NodeProto consumer : index.consumerNodes(value)) {
            if (GraphIndex.implicitInputs(consumer).contains(value)) {
                return true;
            }
        }
        return false;
    }

    public List<NodeProto> consumersOf(String value) {
        return index.consumerNodes(value);
    }

    public Optional<NodeProto> producerOf(String value) {
        return index.producerNode(value);
    }

    public Optional<Integer> producerPosition(String value) {
        return index.producerOf(value);
    }

    // ------------------------------------------------------------------ actions

    /** Declares the channels output {@code i} carries. */
    public void output(int i, Labels labels) {
        if (labels != null && i < node.getOutputCount() && !node.getOutput(i).isEmpty() && !labels.isBlank()) {
            graph.setLabels(node.getOutput(i), labels);
        }
    }

    /** Opens a space of {@code size} new channels that this node produces on {@code axis} of output {@code i}. */
    public int[] newChannels(int i, int axis, int size, ChannelGraph.Kind kind) {
        int[] ids = graph.newSpace(Graphs.nodeLabel(node), node.getOpType(), kind, size);
        output(i, new Labels(axis, ids));
        return ids;
    }

    /**
     * Records that constant input {@code input} is cut along {@code axis} with the channels {@code ids}. When the input
     * is not a constant of that width, the channels are frozen instead.
     *
     * @return whether the slice was recorded
     */
    public boolean cut(int input, int axis, int[] ids, ChannelGraph.Role role) {
        return cut(input, axis, ids, role, null, -1);
    }

    /** Like {@link #cut}, for a consumer's weights that read the channels from {@code read} on input {@code readInput}. */
    public boolean cutReading(int input, int axis, int[] ids, int readInput, Labels read) {
        return cut(input, axis, ids, ChannelGraph.Role.IN, node.getInput(readInput), read.axis());
    }

    private boolean cut(int input, int axis, int[] ids, ChannelGraph.Role role, String activation, int activationAxis) {
        Optional<TensorProto> constant = constant(input);
        if (constant.isEmpty()) {
            freeze(ids, describe() + " reads the channels against input " + input + (has(input) ? " '" + input(input) + "'" : "")
                    + ", which is not a constant that can be cut");
            return false;
        }
        TensorProto t = constant.get();
        long[] dims = Tensors.dims(t);
        DataType type = DataType.of(t);
        if (axis < 0 || axis >= dims.length || dims[axis] != ids.length) {
            freeze(ids, describe() + ": constant '" + t.getName() + "' of shape " + Arrays.toString(dims) + " does not have "
                    + ids.length + " entries on axis " + axis);
            return false;
        }
        if (type == DataType.STRING || type.bits() % 8 != 0) {
            freeze(ids, describe() + ": constant '" + t.getName() + "' is " + type.displayName() + ", which cannot be cut");
            return false;
        }
        graph.addSlice(new ChannelGraph.Slice(position, Graphs.nodeLabel(node), node.getOpType(), input, node.getInput(input), axis,
                ids, role, activation, activationAxis));
        return true;
    }

    /** Couples two position-aligned channel lists; a channel facing a position that can never go is frozen. */
    public void couple(int[] a, int[] b, String reasonIfFixed) {
        for (int j = 0; j < a.length; j++) {
            if (a[j] != Labels.NONE && b[j] != Labels.NONE) {
                graph.couple(a[j], b[j]);
            } else if (a[j] != Labels.NONE) {
                graph.freeze(a[j], reasonIfFixed);
            } else if (b[j] != Labels.NONE) {
                graph.freeze(b[j], reasonIfFixed);
            }
        }
    }

    public void freeze(int[] ids, String reason) {
        for (int id : ids) {
            if (id != Labels.NONE) {
                graph.freeze(id, reason);
            }
        }
    }

    public void freeze(Labels labels, String reason) {
        if (labels != null) {
            freeze(labels.ids(), reason);
        }
    }

    /** Freezes the channels of every input (explicit and subgraph reads): what an operator it cannot follow does. */
    public void freezeInputs(String reason) {
        for (int i = 0; i < node.getInputCount(); i++) {
            freeze(labels(i), reason);
        }
        for (String implicit : GraphIndex.implicitInputs(node)) {
            freeze(graph.labels(implicit), reason);
        }
    }

    /**
     * Splits channels into heads of {@code unit} consecutive positions: the channels of a head are coupled (it goes or
     * stays whole) and the result names one channel per head.
     */
    public int[] heads(int[] ids, int unit) {
        int[] heads = new int[ids.length / unit];
        for (int h = 0; h < heads.length; h++) {
            int first = ids[h * unit];
            for (int k = 1; k < unit; k++) {
                int other = ids[h * unit + k];
                if (first == Labels.NONE || other == Labels.NONE) {
                    if (first != Labels.NONE || other != Labels.NONE) {
                        freeze(new int[] {first, other}, describe() + " splits heads that hold unprunable positions");
                    }
                } else {
                    graph.couple(first, other);
                }
            }
            if (first == Labels.NONE) {
                for (int k = 1; k < unit && first == Labels.NONE; k++) {
                    first = ids[h * unit + k];
                }
            }
            heads[h] = first;
            for (int k = 0; k < unit; k++) {
                if (ids[h * unit + k] != Labels.NONE) {
                    graph.markHead(ids[h * unit + k], unit);
                }
            }
        }
        return heads;
    }

    public void fixup(Fixup fixup) {
        graph.addFixup(fixup);
    }
}
