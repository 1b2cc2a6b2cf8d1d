package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;

/**
 * A trained weight of the graph: a float32 master copy with a gradient, named after the initializer or Constant node
 * it came from and written back there in its stored type. A weight stored quantized (an integer tensor read by
 * DequantizeLinear) trains as its dequantized float values; the forward pass quantizes it again with the stored scale
 * and zero point (straight-through gradient), and write-back stores the new integer levels.
 */
public final class GraphParameter {
    private final String name;
    private final NDArray array;
    private final DataType storedType;
    private final Quantization quantization;
    private NDArray mask;

    /** How a quantized weight is stored: its DequantizeLinear's scale, zero point (or null) and axis. */
    record Quantization(NDArray scale, NDArray zeroPoint, int axis, long[] levels) {
    }

    GraphParameter(String name, NDArray array, DataType storedType, Quantization quantization) {
        this.name = name;
        this.array = array;
        this.storedType = storedType;
        this.quantization = quantization;
        array.setRequiresGradient(true);
    }

    public String name() {
        return name;
    }

    /** The float32 master values (gradients accumulate on this array). */
    public NDArray array() {
        return array;
    }

    public Shape shape() {
        return array.getShape();
    }

    /** The ONNX type the weight is stored in. */
    public DataType storedType() {
        return storedType;
    }

    public boolean isQuantized() {
        return quantization != null;
    }

    /**
     * Whether decoupled weight decay applies: to matrices and kernels (rank >= 2), not to biases, normalisation
     * scales and shifts.
     */
    public boolean decays() {
        return array.getShape().dimension() >= 2;
    }

    /** The pruning mask (1 where the weight may be nonzero), or null when the weight is not masked. */
    public NDArray mask() {
        return mask;
    }

    void setMask(NDArray mask) {
        this.mask = mask;
    }

    /**
     * The value the forward pass reads: the master array itself, or (made in {@code scope}) cast to the stored float
     * type or quantized again.
     */
    Value read(NDManager scope) {
        if (quantization != null) {
            return Value.of(Scopes.compute(scope, arrays(), s -> QuantOps.fakeQuantize(array, quantization.scale(),
                    quantization.zeroPoint(), quantization.axis(), quantization.levels())), storedType);
        }
        if (storedType == DataType.FLOAT) {
            return Value.of(array);
        }
        return Value.of(Scopes.compute(scope, arrays(), s -> OnnxTensors.cast(array, OnnxTensors.djlType(storedType))), storedType);
    }

    private java.util.List<NDArray> arrays() {
        return quantization == null ? java.util.List.of(array)
                : java.util.Arrays.asList(array, quantization.scale(), quantization.zeroPoint());
    }

    /** The weight as it is to be stored (quantized weights as their integer levels). */
    TensorProto toTensor(NDManager manager) {
        if (quantization == null) {
            return OnnxTensors.toTensor(name, array, storedType);
        }
        long[] values;
        try (NDArray levels = Scopes.compute(manager, arrays(), s -> QuantOps.fakeQuantize(array.stopGradient(),
                quantization.scale(), quantization.zeroPoint(), quantization.axis(), quantization.levels())
                .toType(ai.djl.ndarray.types.DataType.INT64, false))) {
            values = levels.toLongArray();
        }
        return OnnxTensors.ofIntegers(name, storedType, array.getShape().getShape(), values);
    }

    @Override
    public String toString() {
        return name + " " + storedType.displayName() + array.getShape() + (quantization != null ? " quantized" : "");
    }
}
