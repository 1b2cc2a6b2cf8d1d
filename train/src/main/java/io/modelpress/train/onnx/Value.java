package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import io.modelpress.core.onnx.DataType;

/**
 * A value of the graph while it runs: an NDArray on the engine, or a {@link HostTensor} for small integer data
 * (shapes, axes, indices). {@link #type()} is the value's ONNX element type. One case differs from the array's own
 * type: a quantized value (QuantizeLinear's output, a quantized weight) is carried as float32 holding the integer
 * levels, so that gradients can pass it by the straight-through estimator; {@link #isCarriedInteger()} tells.
 */
public final class Value {
    private final NDArray array;
    private final HostTensor host;
    private final DataType type;

    private Value(NDArray array, HostTensor host, DataType type) {
        this.array = array;
        this.host = host;
        this.type = type;
    }

    /** An engine value whose ONNX type is the array's own. */
    public static Value of(NDArray array) {
        return new Value(array, null, OnnxTensors.onnxType(array.getDataType()));
    }

    /** An engine value of ONNX type {@code type}; a float32 array with an integer type carries quantized levels. */
    public static Value of(NDArray array, DataType type) {
        return new Value(array, null, type);
    }

    public static Value of(HostTensor host) {
        return new Value(null, host, host.type());
    }

    public boolean isHost() {
        return host != null;
    }

    /** The engine array, or null for a host value. */
    public NDArray array() {
        return array;
    }

    /** The host tensor, or null for an engine value. */
    public HostTensor host() {
        return host;
    }

    public DataType type() {
        return type;
    }

    /** Integer levels carried in a float32 array (see the class comment). */
    public boolean isCarriedInteger() {
        return array != null && !type.isFloatingPoint() && array.getDataType().isFloating();
    }

    public long[] shape() {
        return host != null ? host.shape() : array.getShape().getShape();
    }

    Value withArray(NDArray replacement) {
        return new Value(replacement, null, type);
    }

    @Override
    public String toString() {
        return host != null ? host.toString() : type.displayName() + array.getShape();
    }
}
