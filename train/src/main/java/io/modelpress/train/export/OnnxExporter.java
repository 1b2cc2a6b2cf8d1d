package io.modelpress.train.export;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * Exports a trained DJL block tree to an ONNX model (fp32, opset {@value #OPSET}, IR {@value #IR_VERSION}) with one
 * input whose first dimension is a symbolic batch and one output.
 *
 * <p>The walker knows no layer: every block type is exported by a {@link BlockHandler} registered for its class (a
 * subclass uses its nearest registered superclass's handler). DJL builds activations, pooling and flattening as
 * {@link LambdaBlock}s that differ only by name, so those are registered by name with {@link #registerLambda}; since
 * a name is only a label, each such block is first run on a random input and compared with the reference function
 * registered for its name. {@link #standard()} knows the layers of common CNNs and MLPs (see {@link StandardLayers}).
 *
 * <p>Blocks are exported in inference form: dropout disappears, batch norm uses its running statistics.
 */
public final class OnnxExporter {
    public static final long OPSET = 17;
    public static final long IR_VERSION = 8;
    public static final String DEFAULT_INPUT = "input";
    public static final String DEFAULT_OUTPUT = "logits";
    public static final String BATCH_DIM = "batch";

    private final Map<Class<?>, BlockHandler<?>> handlers = new HashMap<>();
    private final Map<String, LambdaLayer> lambdas = new HashMap<>();

    /** What a named {@link LambdaBlock} must compute ({@code reference}, or null for none) and how it exports. */
    private record LambdaLayer(UnaryOperator<NDArray> reference, BlockHandler<? super LambdaBlock> handler) {
    }

    /** An exporter with no layers registered. */
    public static OnnxExporter empty() {
        return new OnnxExporter();
    }

    /** An exporter that knows the layers in {@link StandardLayers}. */
    public static OnnxExporter standard() {
        OnnxExporter exporter = new OnnxExporter();
        StandardLayers.registerAll(exporter);
        return exporter;
    }

    /** Registers (or replaces) the handler for blocks of {@code type} and of its subclasses without their own. */
    public <B extends Block> OnnxExporter register(Class<B> type, BlockHandler<? super B> handler) {
        handlers.put(type, handler);
        return this;
    }

    /**
     * Registers the handler for {@link LambdaBlock}s named {@code name} (as DJL names them, e.g. "ReLU").
     *
     * @param reference what such a block must compute, checked on a random input before export; null skips the
     *     check (for handlers that only reject the block with an explanation)
     */
    public OnnxExporter registerLambda(String name, UnaryOperator<NDArray> reference, BlockHandler<? super LambdaBlock> handler) {
        lambdas.put(name, new LambdaLayer(reference, handler));
        return this;
    }

    /** Exports with input {@value #DEFAULT_INPUT} and output {@value #DEFAULT_OUTPUT}. */
    public ModelProto export(Block block, Shape exampleInputShape) {
        return export(block, exampleInputShape, DEFAULT_INPUT, DEFAULT_OUTPUT);
    }

    /**
     * Builds the ONNX model of an initialised block.
     *
     * @param exampleInputShape the input shape of one batch, batch dimension first (its size does not matter: the
     *     model declares that dimension symbolic)
     */
    public ModelProto export(Block block, Shape exampleInputShape, String inputName, String outputName) {
        if (!block.isInitialized()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "block '<root>'",
                    block.getClass().getSimpleName() + " is not initialised: initialise or train it before exporting");
        }
        if (exampleInputShape.dimension() < 1 || exampleInputShape.get(0) < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "input shape " + exampleInputShape
                    + " needs a batch dimension of at least 1 first");
        }
        GraphProto.Builder graph = GraphProto.newBuilder().setName(block.getClass().getSimpleName());
        ExportContext context = new ExportContext(this, graph, engineOf(block));
        context.reserve(inputName);
        context.reserve(outputName);
        Value input = new Value(inputName, exampleInputShape);
        Value output = context.exportRoot(block, input);
        if (output.shape().dimension() < 1 || output.shape().get(0) != exampleInputShape.get(0)) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPERATOR, "block '<root>'", "output shape "
                    + output.shape() + " does not keep the batch dimension of input shape " + exampleInputShape);
        }
        nameOutput(graph, output.name(), inputName, outputName);
        graph.addInput(valueInfo(inputName, exampleInputShape));
        graph.addOutput(valueInfo(outputName, output.shape()));
        return ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName("modelpress")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(graph)
                .build();
    }

    /** Exports to a file (written atomically). */
    public void write(Block block, Shape exampleInputShape, Path file) {
        OnnxModel.of(export(block, exampleInputShape)).write(file);
    }

    // ------------------------------------------------------------------ the walker

    @SuppressWarnings("unchecked")
    String dispatch(Block block, Value input, ExportContext context) {
        if (block instanceof LambdaBlock lambda) {
            return dispatchLambda(lambda, input, context);
        }
        for (Class<?> type = block.getClass(); type != null; type = type.getSuperclass()) {
            BlockHandler<Block> handler = (BlockHandler<Block>) handlers.get(type);
            if (handler != null) {
                return handler.export(block, input, context);
            }
        }
        throw context.unsupported(block, "(" + block.getClass().getName() + ") has no ONNX export; supported blocks: "
                + supportedNames());
    }

    private String dispatchLambda(LambdaBlock block, Value input, ExportContext context) {
        LambdaLayer layer = lambdas.get(block.getName());
        if (layer == null) {
            String why = LambdaBlock.DEFAULT_NAME.equals(block.getName())
                    ? "without a name has no ONNX export: its function cannot be inspected; use DJL's named blocks"
                            + " (e.g. Activation.reluBlock())"
                    : "named '" + block.getName() + "' has no ONNX export";
            throw context.unsupported(block, why + "; supported blocks: " + supportedNames());
        }
        if (layer.reference() != null) {
            checkComputes(block, layer.reference(), input.shape(), context);
        }
        return layer.handler().export(block, input, context);
    }

    /** The engine that holds the block's weights (where its lambdas are probed); the default one if it has none. */
    private static String engineOf(Block block) {
        return block.getParameters().values().stream()
                .filter(Parameter::isInitialized)
                .map(p -> p.getArray().getManager().getEngine().getEngineName())
                .findFirst()
                .orElseGet(Engine::getDefaultEngineName);
    }

    /** A LambdaBlock's name is only a label: make sure it computes what the name says before trusting it. */
    private static void checkComputes(LambdaBlock block, UnaryOperator<NDArray> reference, Shape shape, ExportContext context) {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), context.engineName())) {
            NDArray probe = manager.randomNormal(shape).mul(3);
            NDArray actual = block.forward(new ParameterStore(manager, false), new NDList(probe), false).singletonOrThrow();
            NDArray expected = reference.apply(probe);
            if (!actual.getShape().equals(expected.getShape()) || !actual.allClose(expected, 1e-5, 1e-6, false)) {
                throw context.unsupported(block, "named '" + block.getName() + "' does not compute what DJL's '"
                        + block.getName() + "' computes (checked on a random input), so it cannot be exported by name");
            }
        }
    }

    private String supportedNames() {
        TreeSet<String> names = new TreeSet<>();
        handlers.keySet().forEach(c -> names.add(c.getSimpleName()));
        lambdas.entrySet().stream().filter(e -> e.getValue().reference() != null)
                .forEach(e -> names.add("LambdaBlock '" + e.getKey() + "'"));
        return String.join(", ", names);
    }

    // ------------------------------------------------------------------ graph signature

    /** Gives the final value the requested output name (an Identity node when the model passes its input through). */
    private static void nameOutput(GraphProto.Builder graph, String finalValue, String inputName, String outputName) {
        if (finalValue.equals(inputName)) {
            graph.addNode(NodeProto.newBuilder().setName(outputName).setOpType("Identity").addInput(inputName).addOutput(outputName));
            return;
        }
        for (NodeProto.Builder node : graph.getNodeBuilderList()) {
            for (int i = 0; i < node.getOutputCount(); i++) {
                if (node.getOutput(i).equals(finalValue)) {
                    node.setOutput(i, outputName);
                }
            }
            for (int i = 0; i < node.getInputCount(); i++) {
                if (node.getInput(i).equals(finalValue)) {
                    node.setInput(i, outputName);
                }
            }
        }
    }

    private static ValueInfoProto valueInfo(String name, Shape shape) {
        TensorShapeProto.Builder dims = TensorShapeProto.newBuilder();
        dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(BATCH_DIM));
        for (int i = 1; i < shape.dimension(); i++) {
            dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(shape.get(i)));
        }
        TypeProto.Tensor tensor = TypeProto.Tensor.newBuilder().setElemType(DataType.FLOAT.onnxId()).setShape(dims).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tensor)).build();
    }
}
