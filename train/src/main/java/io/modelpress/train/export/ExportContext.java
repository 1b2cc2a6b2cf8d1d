package io.modelpress.train.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The graph under construction while {@link OnnxExporter} walks a block tree. Handlers add nodes and initializers
 * through it; it keeps names unique and derives them from the block's place in the tree (DJL's child names, e.g.
 * {@code 03SequentialBlock.01Conv2d.weight}), so an exported tensor can be traced back to its block.
 */
public final class ExportContext {
    private final OnnxExporter exporter;
    private final GraphProto.Builder graph;
    private final Deque<String> path = new ArrayDeque<>();
    private final Set<String> usedNames = new HashSet<>();

    private final String engineName;

    ExportContext(OnnxExporter exporter, GraphProto.Builder graph, String engineName) {
        this.exporter = exporter;
        this.graph = graph;
        this.engineName = engineName;
    }

    /** The DJL engine that holds the model's weights. */
    public String engineName() {
        return engineName;
    }

    /**
     * Exports a child block: dispatches to the handler registered for its class and returns its output, whose shape
     * is the one DJL computes for the block.
     *
     * @param childName the child's name in its parent (used for ONNX names and error messages)
     */
    public Value export(Block child, String childName, Value input) {
        path.addLast(childName);
        try {
            String output = exporter.dispatch(child, input, this);
            return new Value(output, outputShape(child, input.shape()));
        } finally {
            path.removeLast();
        }
    }

    /** Exports the root block, whose names carry no prefix. */
    Value exportRoot(Block root, Value input) {
        return new Value(exporter.dispatch(root, input, this), outputShape(root, input.shape()));
    }

    private Shape outputShape(Block block, Shape input) {
        Shape[] shapes = block.getOutputShapes(new Shape[] {input});
        if (shapes.length != 1) {
            throw unsupported(block, "has " + shapes.length + " outputs; only single-output blocks can be exported");
        }
        return shapes[0];
    }

    /** Where the block being exported sits, for error messages: {@code block '02SequentialBlock.01Conv2d'}. */
    public String location() {
        return "block '" + (path.isEmpty() ? "<root>" : String.join(".", path)) + "'";
    }

    /** A clear "cannot export this" error located at the current block. */
    public ModelPressException unsupported(Block block, String why) {
        return new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, location(),
                block.getClass().getSimpleName() + " " + why);
    }

    // ------------------------------------------------------------------ initializers

    /** Adds a trained parameter of the current block as an fp32 initializer and returns its name. */
    public String parameter(Block block, String parameterName) {
        return initializer(parameterName, parameterArray(block, parameterName));
    }

    /** The current values of a trained parameter of the current block. */
    public NDArray parameterArray(Block block, String parameterName) {
        Parameter parameter = block.getDirectParameters().get(parameterName);
        if (parameter == null) {
            throw unsupported(block, "has no parameter '" + parameterName + "'");
        }
        if (!parameter.isInitialized()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, location(), "parameter '" + parameterName
                    + "' is not initialised: initialise or train the block before exporting it");
        }
        return parameter.getArray();
    }

    /** Adds an array's current values as an fp32 initializer named after the current block and returns the name. */
    public String initializer(String suffix, NDArray array) {
        DataType type = array.getDataType();
        if (!type.isFloating()) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, location(),
                    "array '" + suffix + "' is " + type + "; only floating-point weights are exported");
        }
        float[] values;
        if (type == DataType.FLOAT32) {
            values = array.toFloatArray();
        } else {
            try (NDArray converted = array.toType(DataType.FLOAT32, true)) {
                values = converted.toFloatArray();
            }
        }
        return initializer(suffix, array.getShape().getShape(), values);
    }

    public String initializer(String suffix, long[] dims, float[] values) {
        String name = uniqueName(scoped(suffix, '.'));
        graph.addInitializer(Tensors.ofFloats(name, dims, values));
        return name;
    }

    public String initializer(String suffix, TensorProto tensor) {
        String name = uniqueName(scoped(suffix, '.'));
        graph.addInitializer(tensor.toBuilder().setName(name));
        return name;
    }

    // ------------------------------------------------------------------ nodes

    /** Adds a standard-domain node with one output and returns the output's name. Empty inputs are "omitted". */
    public String node(String opType, List<String> inputs, AttributeProto... attributes) {
        String name = uniqueName(scoped(opType, '/'));
        graph.addNode(NodeProto.newBuilder()
                .setName(name)
                .setOpType(opType)
                .addAllInput(inputs)
                .addOutput(name)
                .addAllAttribute(List.of(attributes)));
        return name;
    }

    public static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder attribute = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            attribute.addInts(v);
        }
        return attribute.build();
    }

    public static AttributeProto ints(String name, Shape values) {
        return ints(name, values.getShape());
    }

    public static AttributeProto integer(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    public static AttributeProto real(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    // ------------------------------------------------------------------ names

    private String scoped(String leaf, char separator) {
        return path.isEmpty() ? leaf : String.join(".", path) + separator + leaf;
    }

    private String uniqueName(String wanted) {
        String name = wanted;
        for (int i = 1; !usedNames.add(name); i++) {
            name = wanted + "_" + i;
        }
        return name;
    }

    /** Reserves a name used outside the handlers (graph input and output). */
    void reserve(String name) {
        usedNames.add(name);
    }
}
