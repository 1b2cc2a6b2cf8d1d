package io.modelpress.core.quantize.weightonly;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WeightOnlyQuantizerTest {
    @TempDir
    Path dir;

    static StageSpec stage(String params) {
        return RecipeParser.parse("name: t\nstages:\n  - quantize: { mode: weight-only, " + params + " }\n", "test").stages().get(0);
    }

    @ParameterizedTest(name = "{0} bits, block {1}, symmetric {2}, Constant nodes {3}")
    @CsvSource({"4, 16, true, false", "4, 32, false, true", "8, 16, false, false", "8, 32, true, true"})
    void matMulNBitsComputesExactlyTheDequantizedWeights(int bits, int block, boolean symmetric, boolean constantNodes) {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(72, 48, 40, constantNodes, 7));
        Path original = dir.resolve("original.onnx");
        model.write(original);
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int" + bits + ", block_size: " + block
                + ", symmetric_weights: " + symmetric + ", accuracy_level: 0"));
        Path quantized = dir.resolve("quantized.onnx");
        model.write(quantized);

        assertThat(report.quantizedCount()).isEqualTo(2);
        assertThat(ops(model.graph().build())).doesNotContain("MatMul").contains("MatMulNBits");
        assertThat(model.constant("w1")).as("the float weight is gone").isEmpty();

        // an independent decoder of the stored codes reproduces what ONNX Runtime computes
        float[] w1 = decodeMatMulNBits(model, "mm1");
        float[] w2 = decodeMatMulNBits(model, "mm2");
        float[] x = SmallModels.random(new Random(3), 5 * 72, 1f);
        float[] expected = mlp(x, 5, w1, floats(model, "b1"), w2, floats(model, "b2"), 72, 48, 40);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(x, 5, 72));
        float[] actual = Ort.runFirstOutput(quantized, feeds);
        assertThat(maxAbsDiff(actual, expected)).isLessThan(1e-4f);

        // and the quantization error against the float model is within what the bit width allows
        float[] reference = Ort.runFirstOutput(original, feeds);
        double relativeError = relativeL2(actual, reference);
        assertThat(relativeError).isLessThan(bits == 4 ? 0.12 : 0.01).isGreaterThan(0);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void gemmWithTransposedWeightAlphaBetaAndBiasBecomesMatMulNBitsAndAdd() {
        Random random = new Random(11);
        int m = 3;
        int k = 64;
        int n = 24;
        GraphProto g = GraphProto.newBuilder().setName("gemm")
                .addInput(Nodes.tensorInfo("a", DataType.FLOAT, m, k))
                .addInitializer(Tensors.ofFloats("b", new long[] {n, k}, SmallModels.random(random, n * k, 0.2f)))
                .addInitializer(Tensors.ofFloats("c", new long[] {n}, SmallModels.random(random, n, 1f)))
                .addNode(Nodes.node("Gemm", "gemm", List.of("a", "b", "c"), List.of("y"),
                        Nodes.attr("transB", 1L), Nodes.attr("alpha", 0.5f), Nodes.attr("beta", 2f)))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, m, n)).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 13));
        Path original = dir.resolve("gemm.onnx");
        model.write(original);
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int8, block_size: 32, accuracy_level: 0"));
        Path quantized = dir.resolve("gemm-q.onnx");
        model.write(quantized);

        assertThat(report.quantizedCount()).isEqualTo(1);
        assertThat(ops(model.graph().build())).containsExactly("MatMulNBits", "Add");
        Map<String, Object> feeds = Map.of("a", new Ort.Floats(SmallModels.random(random, m * k, 1f), m, k));
        assertThat(relativeL2(Ort.runFirstOutput(quantized, feeds), Ort.runFirstOutput(original, feeds))).isLessThan(0.01);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void embeddingTableBecomesGatherBlockQuantizedAndGathersTheDequantizedRows() {
        Random random = new Random(5);
        int rows = 100;
        int width = 64;
        float[] table = SmallModels.random(random, rows * width, 0.5f);
        GraphProto g = GraphProto.newBuilder().setName("embedding")
                .addInput(Nodes.tensorInfo("ids", DataType.INT64, "batch", "tokens"))
                .addInitializer(Tensors.ofFloats("table", new long[] {rows, width}, table))
                .addNode(Nodes.node("Gather", "embed", List.of("table", "ids"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", "tokens", width)).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 13));
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int4, block_size: 16, symmetric_weights: false"));
        Path quantized = dir.resolve("embedding-q.onnx");
        model.write(quantized);

        assertThat(report.quantizedCount()).isEqualTo(1);
        assertThat(ops(model.graph().build())).containsExactly("GatherBlockQuantized");
        long[] ids = {3, 99, 0, 3};
        float[] y = Ort.runFirstOutput(quantized, Map.of("ids", new long[][] {ids}));
        float[] decoded = decodeGather(model, "embed", rows, width);
        for (int t = 0; t < ids.length; t++) {
            for (int c = 0; c < width; c++) {
                float got = y[t * width + c];
                assertThat(got).isEqualTo(decoded[(int) ids[t] * width + c]);
                // 4-bit codes over a block's range: within one step of the original value
                assertThat(Math.abs(got - table[(int) ids[t] * width + c])).isLessThan(0.25f);
            }
        }
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void weightsReadInsideAnIfBranchAreQuantizedAndBothBranchesStillRun() {
        OnnxModel model = OnnxModel.of(SmallModels.withIf(64, 9));
        Path original = dir.resolve("if.onnx");
        model.write(original);
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int8, block_size: 16"));
        Path quantized = dir.resolve("if-q.onnx");
        model.write(quantized);

        assertThat(report.entries()).singleElement().satisfies(e -> assertThat(e.node()).isEqualTo("then_mm"));
        assertThat(model.graph().getInitializerList()).extracting(TensorProto::getName).doesNotContain("w");
        float[] x = SmallModels.random(new Random(1), 64, 1f);
        for (boolean cond : new boolean[] {true, false}) {
            Map<String, Object> feeds = Map.of("cond", cond, "x", new Ort.Floats(x, 1, 64));
            float[] expected = Ort.runFirstOutput(original, feeds);
            float[] actual = Ort.runFirstOutput(quantized, feeds);
            if (cond) {
                assertThat(relativeL2(actual, expected)).isLessThan(0.01);
            } else {
                assertThat(actual).containsExactly(expected);
            }
        }
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void excludedNodesAndNonConstantOperandsAreReportedWithReasons() {
        Random random = new Random(2);
        GraphProto g = GraphProto.newBuilder().setName("mixed")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 4, 64))
                .addInput(Nodes.tensorInfo("other", DataType.FLOAT, 64, 64))
                .addInput(Nodes.tensorInfo("z", DataType.FLOAT, 4, 4))
                .addInitializer(Tensors.ofFloats("w", new long[] {64, 64}, SmallModels.random(random, 64 * 64, 0.2f)))
                .addInitializer(Tensors.ofFloats("tiny", new long[] {4, 2}, SmallModels.random(random, 8, 0.2f)))
                .addNode(Nodes.node("MatMul", "kept", List.of("x", "w"), List.of("a")))
                .addNode(Nodes.node("MatMul", "quantized", List.of("a", "w"), List.of("b")))
                .addNode(Nodes.node("MatMul", "activations", List.of("b", "other"), List.of("c")))
                .addNode(Nodes.node("MatMul", "small", List.of("z", "tiny"), List.of("y")))
                .addOutput(Nodes.tensorInfo("c", DataType.FLOAT, 4, 64))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 4, 2)).build();
        OnnxModel model = OnnxModel.of(SmallModels.model(g, 13));
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int4, exclude: { nodes: [kept] }"));

        Map<String, String> reasons = new java.util.HashMap<>();
        report.entries().stream().filter(e -> !e.quantized()).forEach(e -> reasons.put(e.node(), e.reason()));
        assertThat(reasons).containsEntry("kept", "excluded by the recipe").containsKey("activations").containsKey("small");
        assertThat(reasons.get("activations")).contains("not a constant");
        assertThat(reasons.get("small")).contains("would not be smaller");
        assertThat(report.quantizedCount()).isEqualTo(1);
        // the excluded node still reads the float weight, so it stays
        assertThat(model.constant("w")).isPresent();
        assertThat(report.toJson().get("notes").get("format").asText()).isEqualTo("int4 blocks of 32 symmetric");
    }

    @Test
    void ir3ModelsListingWeightsAsInputsAreQuantizedAndTheirInputsDropped() {
        ai.onnx.proto.OnnxMl.ModelProto mlp = SmallModels.mlp(64, 32, 16, false, 4);
        GraphProto.Builder g = mlp.getGraph().toBuilder();
        for (TensorProto t : mlp.getGraph().getInitializerList()) {
            Object[] dims = t.getDimsList().toArray();
            g.addInput(Nodes.tensorInfo(t.getName(), DataType.FLOAT, dims)); // IR 3: every initializer is an input
        }
        OnnxModel model = OnnxModel.of(mlp.toBuilder().setIrVersion(3).setGraph(g).build());
        Path original = dir.resolve("ir3.onnx");
        model.write(original);
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int8, block_size: 32, accuracy_level: 0"));
        Path quantized = dir.resolve("ir3-q.onnx");
        model.write(quantized);

        assertThat(report.quantizedCount()).isEqualTo(2);
        assertThat(model.graph().getInputList()).extracting(ai.onnx.proto.OnnxMl.ValueInfoProto::getName)
                .containsExactly("x", "b1", "b2");
        assertThat(model.proto().getIrVersion()).isEqualTo(4);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(SmallModels.random(new Random(6), 2 * 64, 1f), 2, 64));
        assertThat(relativeL2(Ort.runFirstOutput(quantized, feeds), Ort.runFirstOutput(original, feeds))).isLessThan(0.01);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void opsetSevenModelsNeedNoUpgradeAndRunCloseToTheOriginal() {
        // the emitted operators live in com.microsoft (versioned on their own) plus the default domain's Add, which
        // opset 7 already broadcasts: the model's default opset stays as it is
        Random random = new Random(8);
        GraphProto.Builder g = GraphProto.newBuilder().setName("old")
                .addInput(Nodes.tensorInfo("ids", DataType.INT64, "batch"))
                .addInitializer(Tensors.ofFloats("table", new long[] {200, 64}, SmallModels.random(random, 200 * 64, 0.5f)))
                .addInitializer(Tensors.ofFloats("w", new long[] {24, 64}, SmallModels.random(random, 24 * 64, 0.3f)))
                .addInitializer(Tensors.ofFloats("c", new long[] {24}, SmallModels.random(random, 24, 0.1f)))
                .addNode(Nodes.node("Gather", "embed", List.of("table", "ids"), List.of("e")))
                .addNode(Nodes.node("Gemm", "fc", List.of("e", "w", "c"), List.of("y"), Nodes.attr("transB", 1L)))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 24));
        for (TensorProto t : g.getInitializerList()) {
            g.addInput(Nodes.tensorInfo(t.getName(), DataType.FLOAT, t.getDimsList().toArray())); // IR 3: initializers are inputs
        }
        OnnxModel model = OnnxModel.of(SmallModels.model(g.build(), 7).toBuilder().setIrVersion(3).build());
        Path original = dir.resolve("opset7.onnx");
        model.write(original);
        QuantizationReport report = WeightOnlyQuantizer.quantize(model, stage("weights: int4, block_size: 16, symmetric_weights: false"));
        Path quantized = dir.resolve("opset7-q.onnx");
        model.write(quantized);

        assertThat(report.quantizedCount()).isEqualTo(2);
        assertThat(model.opset("")).isEqualTo(7);
        assertThat(ops(model.graph().build())).containsExactly("GatherBlockQuantized", "MatMulNBits", "Add");
        Map<String, Object> feeds = Map.of("ids", new long[] {0, 17, 199, 42, 17});
        float[] expected = Ort.runFirstOutput(original, feeds);
        float[] actual = Ort.runFirstOutput(quantized, feeds);
        assertThat(io.modelpress.core.eval.Similarity.cosine(expected, actual)).isGreaterThan(0.99);
        assertThat(relativeL2(actual, expected)).isLessThan(0.1);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void recipeValuesThatMatMulNBitsCannotTakeAreBadRecipes() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(64, 32, 8, false, 1));
        assertThatThrownBy(() -> WeightOnlyQuantizer.quantize(model, stage("weights: int8-per-channel")))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
                    assertThat(e.getMessage()).contains("weights").contains("int8-per-channel");
                });
        assertThatThrownBy(() -> WeightOnlyQuantizer.quantize(model, stage("block_size: 48")))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
                    assertThat(e.getMessage()).contains("block_size").contains("power of two");
                });
    }

    // ------------------------------------------------------------------ independent decoders and arithmetic

    static List<String> ops(GraphProto graph) {
        return graph.getNodeList().stream().map(NodeProto::getOpType).filter(op -> !op.equals("Constant")).toList();
    }

    private static NodeProto node(OnnxModel model, String name) {
        return model.graph().getNodeList().stream().filter(n -> n.getName().equals(name)).findFirst().orElseThrow();
    }

    private static float[] floats(OnnxModel model, String name) {
        return model.floats(model.constant(name).orElseThrow());
    }

    /** W[k][n] from MatMulNBits' B [N, blocks, blob], scales [N, blocks] and optional packed zero points. */
    static float[] decodeMatMulNBits(OnnxModel model, String nodeName) {
        NodeProto node = node(model, nodeName);
        int k = (int) Nodes.intAttribute(node, "K", -1);
        int n = (int) Nodes.intAttribute(node, "N", -1);
        int bits = (int) Nodes.intAttribute(node, "bits", -1);
        int block = (int) Nodes.intAttribute(node, "block_size", -1);
        int blocks = (k + block - 1) / block;
        long[] codes = model.longs(model.constant(node.getInput(1)).orElseThrow());
        float[] scales = floats(model, node.getInput(2));
        Optional<long[]> zp = node.getInputCount() > 3 ? Optional.of(model.longs(model.constant(node.getInput(3)).orElseThrow())) : Optional.empty();
        int zpBytes = (blocks * bits + 7) / 8;
        int blob = block * bits / 8;
        float[] w = new float[k * n];
        for (int col = 0; col < n; col++) {
            for (int row = 0; row < k; row++) {
                int b = row / block;
                int code = unpack(codes, (col * blocks + b) * blob, row % block, bits);
                int zero = zp.isPresent() ? unpack(zp.get(), col * zpBytes, b, bits) : 1 << (bits - 1);
                w[row * n + col] = (code - zero) * scales[col * blocks + b];
            }
        }
        return w;
    }

    /** The whole table as GatherBlockQuantized stores it: data [rows, width * bits / 8], scales [rows, blocks]. */
    static float[] decodeGather(OnnxModel model, String nodeName, int rows, int width) {
        NodeProto node = node(model, nodeName);
        int bits = (int) Nodes.intAttribute(node, "bits", -1);
        int block = (int) Nodes.intAttribute(node, "block_size", -1);
        int blocks = (width + block - 1) / block;
        long[] codes = model.longs(model.constant(node.getInput(0)).orElseThrow());
        float[] scales = floats(model, node.getInput(2));
        Optional<long[]> zp = node.getInputCount() > 3 ? Optional.of(model.longs(model.constant(node.getInput(3)).orElseThrow())) : Optional.empty();
        int zpBytes = (blocks * bits + 7) / 8;
        float[] out = new float[rows * width];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < width; c++) {
                int b = c / block;
                int code = unpack(codes, r * width * bits / 8, c, bits);
                int zero = zp.isPresent() ? unpack(zp.get(), r * zpBytes, b, bits) : 1 << (bits - 1);
                out[r * width + c] = (code - zero) * scales[r * blocks + b];
            }
        }
        return out;
    }

    private static int unpack(long[] bytes, int start, int index, int bits) {
        if (bits == 8) {
            return (int) bytes[start + index];
        }
        int b = (int) bytes[start + index / 2];
        return index % 2 == 0 ? b & 0x0f : b >>> 4;
    }

    private static float[] mlp(float[] x, int batch, float[] w1, float[] b1, float[] w2, float[] b2, int in, int hidden, int out) {
        float[] h = new float[batch * hidden];
        for (int r = 0; r < batch; r++) {
            for (int j = 0; j < hidden; j++) {
                float s = b1[j];
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w1[i * hidden + j];
                }
                h[r * hidden + j] = Math.max(0, s);
            }
        }
        float[] y = new float[batch * out];
        for (int r = 0; r < batch; r++) {
            for (int j = 0; j < out; j++) {
                float s = b2[j];
                for (int i = 0; i < hidden; i++) {
                    s += h[r * hidden + i] * w2[i * out + j];
                }
                y[r * out + j] = s;
            }
        }
        return y;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
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
