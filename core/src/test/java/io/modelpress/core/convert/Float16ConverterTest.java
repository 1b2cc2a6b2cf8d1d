package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.OnnxTestCase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Float16ConverterTest {
    @TempDir
    Path dir;

    static StageSpec stage(String params) {
        return RecipeParser.parse("name: t\nstages:\n  - convert: { " + params + " }\n", "test").stages().get(0);
    }

    @ParameterizedTest(name = "weights in Constant nodes: {0}")
    @ValueSource(booleans = {false, true})
    void mlpComputesAsBeforeWithFloat16WeightsAndFloat32Edges(boolean constantNodes) {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(32, 24, 8, constantNodes, 3));
        Path original = dir.resolve("mlp.onnx");
        model.write(original);
        ConversionReport report = Float16Converter.convert(model, Float16Converter.options(stage("to: fp16")));
        Path converted = dir.resolve("mlp-fp16.onnx");
        model.write(converted);

        assertThat(report.convertedNodes()).isEqualTo(5);
        assertThat(report.tensorsConverted()).isEqualTo(4);
        assertThat(report.floatBytesAfter() * 2).isEqualTo(report.floatBytesBefore());
        assertThat(report.castsInserted()).isEqualTo(2); // input in, output out
        assertThat(DataType.of(model.constant("w1").orElseThrow())).isEqualTo(DataType.FLOAT16);
        assertThat(model.graph().getInput(0).getType().getTensorType().getElemType()).isEqualTo(DataType.FLOAT.onnxId());
        assertThat(model.graph().getOutput(0).getType().getTensorType().getElemType()).isEqualTo(DataType.FLOAT.onnxId());

        Map<String, Object> feeds = Map.of("x", new Ort.Floats(SmallModels.random(new Random(1), 4 * 32, 1f), 4, 32));
        float[] expected = Ort.runFirstOutput(original, feeds);
        float[] actual = Ort.runFirstOutput(converted, feeds);
        assertThat(relativeL2(actual, expected)).isLessThan(2e-3).isGreaterThan(0);
        OnnxChecker.assertValid(converted);
    }

    @Test
    void withoutKeepingIoTypesTheModelTakesAndReturnsFloat16() throws Exception {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(16, 8, 4, false, 5));
        Path original = dir.resolve("mlp.onnx");
        model.write(original);
        ConversionReport report = Float16Converter.convert(model, Float16Converter.options(stage("keep_io_types: false")));
        Path converted = dir.resolve("mlp-fp16-io.onnx");
        model.write(converted);

        assertThat(report.castsInserted()).isZero();
        assertThat(model.graph().getInput(0).getType().getTensorType().getElemType()).isEqualTo(DataType.FLOAT16.onnxId());
        assertThat(model.graph().getOutput(0).getType().getTensorType().getElemType()).isEqualTo(DataType.FLOAT16.onnxId());
        float[] x = SmallModels.random(new Random(2), 2 * 16, 1f);
        float[] expected = Ort.runFirstOutput(original, Map.of("x", new Ort.Floats(x, 2, 16)));
        double[] actual = fp16Output(converted, Map.of("x", Tensors.ofFloat16("x", new long[] {2, 16}, x)));
        float[] actualFloats = new float[actual.length];
        for (int i = 0; i < actual.length; i++) {
            actualFloats[i] = (float) actual[i];
        }
        assertThat(relativeL2(actualFloats, expected)).isLessThan(5e-3);
        OnnxChecker.assertValid(converted);
    }

    @Test
    void blockedAndExcludedNodesStayFloat32BehindCasts() {
        Random random = new Random(7);
        GraphProto g = GraphProto.newBuilder().setName("mixed")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 4, 8))
                .addInitializer(Tensors.ofFloats("w", new long[] {8, 8}, SmallModels.random(random, 64, 0.5f)))
                .addInitializer(Tensors.ofFloats("b", new long[] {8}, SmallModels.random(random, 8, 0.5f)))
                .addInitializer(Tensors.scalarLong("axis", 1))
                .addNode(Nodes.node("MatMul", "matmul", List.of("x", "w"), List.of("h")))
                .addNode(Nodes.node("CumSum", "cumsum", List.of("h", "axis"), List.of("c")))
                .addNode(Nodes.node("Add", "add", List.of("c", "b"), List.of("d")))
                .addNode(Nodes.node("Mul", "mul", List.of("d", "b"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 4, 8)).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 17));
        Path original = dir.resolve("mixed.onnx");
        model.write(original);
        ConversionReport report = Float16Converter.convert(model, Float16Converter.options(stage("exclude: { nodes: [add] }")));
        Path converted = dir.resolve("mixed-fp16.onnx");
        model.write(converted);

        assertThat(report.keptNodes()).extracting(ConversionReport.KeptNode::node, ConversionReport.KeptNode::reason)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple("cumsum", "running sums lose precision and overflow in float16"),
                        org.assertj.core.groups.Tuple.tuple("add", "excluded by the recipe"));
        // b is read in float32 by the excluded Add and in float16 by Mul: both copies are stored
        assertThat(model.graph().getInitializerList()).extracting(TensorProto::getName).contains("b", "b_fp16");
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(SmallModels.random(random, 32, 1f), 4, 8));
        assertThat(relativeL2(Ort.runFirstOutput(converted, feeds), Ort.runFirstOutput(original, feeds))).isLessThan(3e-3);
        OnnxChecker.assertValid(converted);
    }

    @Test
    void ifBodiesStayFloat32AndStillReadTheirOuterValues() throws Exception {
        for (boolean keepIo : new boolean[] {true, false}) {
            OnnxModel model = OnnxModel.of(SmallModels.withIf(8, 3));
            Path original = dir.resolve("if.onnx");
            model.write(original);
            ConversionReport report = Float16Converter.convert(model, new Float16Converter.Options(keepIo, io.modelpress.core.onnx.NodeSelector.ALL));
            Path converted = dir.resolve("if-fp16-" + keepIo + ".onnx");
            model.write(converted);

            assertThat(report.keptNodes()).singleElement().satisfies(k -> assertThat(k.reason()).contains("subgraphs"));
            float[] x = SmallModels.random(new Random(9), 8, 1f);
            for (boolean cond : new boolean[] {true, false}) {
                float[] expected = Ort.runFirstOutput(original, Map.of("cond", cond, "x", new Ort.Floats(x, 1, 8)));
                if (keepIo) {
                    assertThat(Ort.runFirstOutput(converted, Map.of("cond", cond, "x", new Ort.Floats(x, 1, 8)))).containsExactly(expected);
                } else {
                    // x arrives in float16, is cast to float32 for the branches, and y leaves in float16
                    double[] y = fp16Output(converted, Map.of("cond", Tensors.ofBools("cond", new long[0], new boolean[] {cond}),
                            "x", Tensors.ofFloat16("x", new long[] {1, 8}, x)));
                    for (int i = 0; i < y.length; i++) {
                        assertThat(y[i]).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(0.01 + 0.01 * Math.abs(expected[i])));
                    }
                }
            }
            OnnxChecker.assertValid(converted);
        }
    }

    @Test
    void resizeKeepsItsFloat32ScalesWhileTheImageTurnsFloat16() {
        GraphProto g = GraphProto.newBuilder().setName("resize")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 1, 2, 3))
                .addInitializer(Tensors.ofFloats("scales", new long[] {4}, new float[] {1, 1, 2, 2}))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Resize", "resize", List.of("r", "", "scales"), List.of("y"), Nodes.attr("mode", "linear")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 1, 4, 6)).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 13));
        Path original = dir.resolve("resize.onnx");
        model.write(original);
        Float16Converter.convert(model, Float16Converter.Options.DEFAULT);
        Path converted = dir.resolve("resize-fp16.onnx");
        model.write(converted);

        assertThat(DataType.of(model.constant("scales").orElseThrow())).isEqualTo(DataType.FLOAT);
        NodeProto resize = model.graph().getNodeList().stream().filter(n -> n.getOpType().equals("Resize")).findFirst().orElseThrow();
        assertThat(resize.getInput(2)).isEqualTo("scales");
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {1, 2, 3, 4, 5, 6}, 1, 1, 2, 3));
        assertThat(relativeL2(Ort.runFirstOutput(converted, feeds), Ort.runFirstOutput(original, feeds))).isLessThan(1e-3);
        OnnxChecker.assertValid(converted);
    }

    @Test
    void onlyFloat16IsATarget() {
        StageSpec bf16 = new StageSpec(2, "convert", Map.of("to", "bf16"));
        assertThatThrownBy(() -> Float16Converter.options(bf16)).isInstanceOfSatisfying(ModelPressException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
            assertThat(e.getMessage()).contains("stages[2].convert.to").contains("bf16");
        });
    }

    /** The first output of a model whose inputs and outputs are float16, via the test-data runner. */
    static double[] fp16Output(Path model, Map<String, TensorProto> feeds) throws Exception {
        Object first = OnnxTestCase.run(model, List.of(feeds)).get(0).values().values().iterator().next();
        return ((OnnxTestCase.FloatValues) first).values();
    }

    static double relativeL2(float[] actual, float[] expected) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < actual.length; i++) {
            num += Math.pow(actual[i] - expected[i], 2);
            den += Math.pow(expected[i], 2);
        }
        return Math.sqrt(num / den);
    }
}
