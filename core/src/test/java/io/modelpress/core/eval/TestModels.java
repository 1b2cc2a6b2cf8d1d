package io.modelpress.core.eval;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.ModelWriter;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Small real ONNX models written for tests: linear classifiers (Flatten -> MatMul -> Add). */
final class TestModels {
    private TestModels() {
    }

    /**
     * A linear classifier {@code logits = flatten(input) @ weights + bias}.
     *
     * @param inputDims  the declared input shape; -1 marks a symbolic dimension ("N")
     * @param weights    row-major [features, classes]
     * @param fp16Output append a Cast so the output is float16
     * @param external   keep the weights in an external data file
     */
    static Path linear(Path file, String inputName, long[] inputDims, String outputName, float[] weights, float[] bias,
                       boolean fp16Output, boolean external) throws Exception {
        return linear(file, inputName, inputDims, outputName, weights, bias, fp16Output, external, false);
    }

    /** As above; {@code withScores} also exposes the pre-bias product as a second output, "scores". */
    static Path linear(Path file, String inputName, long[] inputDims, String outputName, float[] weights, float[] bias,
                       boolean fp16Output, boolean external, boolean withScores) throws Exception {
        int classes = bias.length;
        int features = weights.length / classes;
        List<NodeProto> nodes = new ArrayList<>();
        nodes.add(NodeProto.newBuilder().setOpType("Flatten").setName("flatten").addInput(inputName).addOutput("flat")
                .addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(1)).build());
        nodes.add(NodeProto.newBuilder().setOpType("MatMul").setName("matmul").addInput("flat").addInput("W").addOutput("scores").build());
        String added = fp16Output ? "logits32" : outputName;
        nodes.add(NodeProto.newBuilder().setOpType("Add").setName("add").addInput("scores").addInput("B").addOutput(added).build());
        if (fp16Output) {
            nodes.add(NodeProto.newBuilder().setOpType("Cast").setName("cast").addInput(added).addOutput(outputName)
                    .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT)
                            .setI(DataType.FLOAT16.onnxId())).build());
        }
        GraphProto.Builder graph = GraphProto.newBuilder().setName("linear")
                .addAllNode(nodes)
                .addInitializer(Tensors.ofFloats("W", new long[] {features, classes}, weights))
                .addInitializer(Tensors.ofFloats("B", new long[] {classes}, bias))
                .addInput(valueInfo(inputName, DataType.FLOAT, inputDims))
                .addOutput(valueInfo(outputName, fp16Output ? DataType.FLOAT16 : DataType.FLOAT, new long[] {inputDims[0], classes}));
        if (withScores) {
            graph.addOutput(valueInfo("scores", DataType.FLOAT, new long[] {inputDims[0], classes}));
        }
        ModelProto model = ModelProto.newBuilder().setIrVersion(8).setProducerName("modelpress-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build();
        Files.createDirectories(file.toAbsolutePath().getParent());
        OnnxModel.of(model).write(file, external ? ModelWriter.Options.external() : new ModelWriter.Options(ModelWriter.Layout.INLINE, 1024));
        return file;
    }

    static ValueInfoProto valueInfo(String name, DataType type, long[] dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long d : dims) {
            shape.addDim(d >= 0 ? TensorShapeProto.Dimension.newBuilder().setDimValue(d) : TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
        }
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.onnxId()).setShape(shape))).build();
    }
}
