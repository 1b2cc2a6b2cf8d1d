package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;

import java.util.List;
import java.util.Optional;

/**
 * What a handler sees of the node it runs: attributes, input values (engine or host form, converted on request),
 * the manager its results are made in, and whether the model runs in training mode. Arrays made by the handler -
 * results and temporaries alike - belong to a per-node scope; the executor keeps the results and frees the rest.
 */
public final class NodeContext {
    private final NodeProto node;
    private final long opset;
    private final List<Value> inputs;
    private final NDManager manager;
    private final boolean training;
    private final BufferAccess buffers;

    /** Read-write access to the model state behind a node input (BatchNormalization's running statistics). */
    interface BufferAccess {
        /** The state array stored under {@code valueName}, or null when the value is not model state. */
        NDArray buffer(String valueName);
    }

    NodeContext(NodeProto node, long opset, List<Value> inputs, NDManager manager, boolean training, BufferAccess buffers) {
        this.node = node;
        this.opset = opset;
        this.inputs = inputs;
        this.manager = manager;
        this.training = training;
        this.buffers = buffers;
    }

    public NodeProto node() {
        return node;
    }

    /** The default-domain opset the model imports (operators changed their inputs and attributes between versions). */
    public long opset() {
        return opset;
    }

    /** Where errors point: {@code node 'conv1' (Conv)}. */
    public String location() {
        return location(node);
    }

    static String location(NodeProto node) {
        return "node '" + Graphs.nodeLabel(node) + "' (" + node.getOpType() + ")";
    }

    /** The manager to make new arrays in. */
    public NDManager manager() {
        return manager;
    }

    /** True when the model runs in training mode (dropout active, batch statistics in BatchNormalization). */
    public boolean training() {
        return training;
    }

    // ------------------------------------------------------------------ inputs

    public int inputCount() {
        return inputs.size();
    }

    /** True when input {@code i} is given (optional inputs may be missing or named "" ). */
    public boolean has(int i) {
        return i < inputs.size() && inputs.get(i) != null;
    }

    public Value value(int i) {
        if (!has(i)) {
            throw invalid("input " + i + " is required");
        }
        return inputs.get(i);
    }

    /** Input {@code i} as an engine array of its ONNX type (host values and carried integer levels are converted). */
    public NDArray array(int i) {
        return array(value(i));
    }

    public NDArray array(Value value) {
        if (value.isHost()) {
            return OnnxTensors.toArray(manager, value.host());
        }
        if (value.isCarriedInteger()) {
            return value.array().toType(OnnxTensors.djlType(value.type()), false);
        }
        return value.array();
    }

    /** Input {@code i} as a host tensor (engine arrays are copied; only for small integer data). */
    public HostTensor host(int i) {
        Value v = value(i);
        if (v.isHost()) {
            return v.host();
        }
        if (v.type().isFloatingPoint()) {
            throw invalid("input " + i + " must be an integer tensor, got " + v.type().displayName());
        }
        return OnnxTensors.toHost(v.array(), v.type());
    }

    /** The values of integer input {@code i} (shapes, axes, indices). */
    public long[] longs(int i) {
        return host(i).values();
    }

    /** The single number held by input {@code i} (a scalar or one-element tensor). */
    public double scalar(int i) {
        Value v = value(i);
        long count = HostTensor.size(v.shape());
        if (count != 1) {
            throw invalid("input " + i + " must hold one value, it holds " + count);
        }
        if (v.isHost()) {
            return v.host().values()[0];
        }
        try (NDArray d = v.array().toType(ai.djl.ndarray.types.DataType.FLOAT64, true)) {
            return d.toDoubleArray()[0];
        }
    }

    /** True when every given input is a host value. */
    public boolean allHost() {
        return inputs.stream().allMatch(v -> v == null || v.isHost());
    }

    /** The running-statistics array behind input {@code i}, or null when that input is not model state. */
    public NDArray buffer(int i) {
        return i < node.getInputCount() ? buffers.buffer(node.getInput(i)) : null;
    }

    // ------------------------------------------------------------------ outputs

    public int outputCount() {
        return node.getOutputCount();
    }

    /** True when output {@code i} exists and has a name (unnamed optional outputs are not computed). */
    public boolean wantsOutput(int i) {
        return i < node.getOutputCount() && !node.getOutput(i).isEmpty();
    }

    // ------------------------------------------------------------------ attributes

    public boolean hasAttribute(String name) {
        return Nodes.attribute(node, name).isPresent();
    }

    public long attr(String name, long fallback) {
        return Nodes.intAttribute(node, name, fallback);
    }

    public float attr(String name, float fallback) {
        return Nodes.floatAttribute(node, name, fallback);
    }

    public String attr(String name, String fallback) {
        return Nodes.stringAttribute(node, name, fallback);
    }

    /** An INTS attribute, or null when absent. */
    public long[] ints(String name) {
        return Nodes.intsAttribute(node, name).orElse(null);
    }

    public Optional<TensorProto> tensorAttr(String name) {
        return Nodes.attribute(node, name).filter(AttributeProto::hasT).map(AttributeProto::getT);
    }

    // ------------------------------------------------------------------ errors

    /** A feature of this operator that the trainer does not support. */
    public ModelPressException unsupported(String what) {
        return new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, location(), what + " is not supported by the ONNX-on-DJL trainer");
    }

    /** Inputs or attributes that break the operator's definition. */
    public ModelPressException invalid(String why) {
        return new ModelPressException(ErrorCode.INVALID_GRAPH, location(), why);
    }

    /** Normalises a possibly negative axis for a tensor of {@code rank} dimensions. */
    public int axis(long axis, int rank) {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.max(rank, 1)) {
            throw invalid("axis " + axis + " is out of range for rank " + rank);
        }
        return (int) a;
    }
}
