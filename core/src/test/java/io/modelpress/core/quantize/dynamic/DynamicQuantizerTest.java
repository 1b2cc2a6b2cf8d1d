package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DynamicQuantizerTest {
    @TempDir
    Path dir;

    private static final DynamicOptions PLAIN = DynamicOptions.DEFAULT;

    @Test
    void mlpWithInitializersIsQuantizedCloseToFloatAndFused() throws Exception {
        Path original = write("mlp.onnx", SmallModels.mlp(16, 64, 8, false, 1));
        OnnxModel model = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("mlp-int8.onnx", model);

        assertThat(report.quantizedCount()).isEqualTo(2);
        assertThat(report.notes().get("calibration")).contains("none given");
        assertThat(opCount(model, "MatMul")).isZero();
        assertThat(opCount(model, "MatMulInteger")).isEqualTo(2);
        assertThat(model.graph().getInitializerList()).extracting(TensorProto::getName).doesNotContain("w1", "w2");
        assertClose(original, quantized, Map.of("x", floats(new Random(7), 4, 16)), 0.02);
        OnnxChecker.assertValid(quantized);
        // ONNX Runtime runs the emitted pattern as its fused integer kernels, no MatMulInteger left over
        Map<String, Integer> ops = OptimizedGraph.opCounts(quantized);
        assertThat(ops).doesNotContainKey("MatMulInteger");
        assertThat(ops.getOrDefault("com.microsoft:DynamicQuantizeMatMul", 0) + ops.getOrDefault("com.microsoft:MatMulIntegerToFloat", 0))
                .isEqualTo(2);
    }

    @Test
    void weightsInConstantNodesAreQuantizedAndTheFloatConstantsRemoved() throws Exception {
        Path original = write("const.onnx", SmallModels.mlp(16, 64, 8, true, 2));
        OnnxModel model = OnnxModel.read(original);
        DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("const-int8.onnx", model);

        assertThat(opCount(model, "MatMulInteger")).isEqualTo(2);
        assertThat(model.graph().getNodeList()).filteredOn(n -> n.getOpType().equals("Constant"))
                .extracting(n -> n.getOutput(0)).doesNotContain("w1", "w2").contains("b1", "b2");
        assertClose(original, quantized, Map.of("x", floats(new Random(8), 4, 16)), 0.02);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void aWeightReadByTwoNodesIsStoredOnce() throws Exception {
        Path original = write("shared.onnx", TestModels.sharedWeight(32, 16, 3));
        OnnxModel model = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("shared-int8.onnx", model);

        assertThat(report.quantizedCount()).isEqualTo(2);
        assertThat(model.graph().getInitializerList()).filteredOn(t -> t.getDataType() == DataType.INT8.onnxId()).hasSize(1);
        assertThat(model.graph().getInitializerList()).extracting(TensorProto::getName).doesNotContain("w");
        Random random = new Random(9);
        assertClose(original, quantized, Map.of("x", floats(random, 3, 32), "z", floats(random, 3, 32)), 0.02);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void gemmWithTransBAlphaAndBetaKeepsItsMeaning() throws Exception {
        Path original = write("gemm.onnx", TestModels.gemmTransB(32, 24, 0.5f, 2f, 4));
        OnnxModel model = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("gemm-int8.onnx", model);

        assertThat(report.quantizedCount()).isEqualTo(1);
        assertThat(opCount(model, "Gemm")).isZero();
        assertClose(original, quantized, Map.of("x", floats(new Random(10), 5, 32)), 0.02);
        OnnxChecker.assertValid(quantized);
        assertThat(OptimizedGraph.opCounts(quantized)).doesNotContainKey("MatMulInteger");
    }

    @Test
    void excludedNodesStayFloatAndTheReportSaysWhy() throws Exception {
        Path original = write("mlp.onnx", SmallModels.mlp(16, 64, 8, false, 5));
        OnnxModel model = OnnxModel.read(original);
        NodeSelector selector = new NodeSelector(List.of(), List.of(), List.of(), List.of("mm2"), List.of(), List.of());
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN.withSelector(selector), CalibrationData.NONE);
        Path quantized = write("mlp-partial.onnx", model);

        assertThat(model.graph().getNodeList()).filteredOn(n -> n.getName().equals("mm2")).singleElement()
                .satisfies(n -> assertThat(n.getOpType()).isEqualTo("MatMul"));
        assertThat(report.entries()).filteredOn(e -> e.node().equals("mm2")).singleElement()
                .satisfies(e -> assertThat(e.reason()).isEqualTo("excluded by the recipe"));
        assertThat(opCount(model, "MatMulInteger")).isEqualTo(1);
        assertClose(original, quantized, Map.of("x", floats(new Random(11), 4, 16)), 0.02);
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void recipeIncludeAndExcludePatternsSelectNodes() {
        StageSpec spec = RecipeParser.parse("name: t\nstages:\n  - quantize: { mode: dynamic, exclude: { patterns: ['mm1'] } }\n", "t")
                .stages().get(0);
        OnnxModel model = OnnxModel.of(SmallModels.mlp(8, 16, 4, false, 6));
        QuantizationReport report = DynamicQuantizer.quantize(model, spec, CalibrationData.NONE);
        assertThat(report.quantizedCount()).isEqualTo(1);
        assertThat(report.entries()).filteredOn(e -> !e.quantized()).extracting(QuantizationReport.Entry::node).containsExactly("mm1");
    }

    @Test
    void anIfSubgraphStaysIntactAndKeepsItsFloatWeight() throws Exception {
        Path original = write("if.onnx", TestModels.ifSharingWeight(8, 12));
        OnnxModel model = OnnxModel.read(original);
        ModelProto before = model.build();
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("if-int8.onnx", model);

        assertThat(report.quantizedCount()).isEqualTo(1);
        NodeProto ifBefore = node(before, "branch");
        NodeProto ifAfter = node(model.build(), "branch");
        assertThat(ifAfter).isEqualTo(ifBefore);
        assertThat(model.graph().getInitializerList()).extracting(TensorProto::getName).contains("w");
        float[] x = floats(new Random(13), 1, 8).data();
        for (boolean cond : new boolean[] {true, false}) {
            Map<String, Object> feeds = Map.of("cond", cond, "x", new Ort.Floats(x, 1, 8));
            assertThat(Ort.runFirstOutput(quantized, feeds)).containsExactly(Ort.runFirstOutput(original, feeds));
        }
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void matMulsWithoutAUsableWeightAreSkippedWithAReason() throws Exception {
        OnnxModel model = OnnxModel.of(TestModels.unsupportedMatMuls(8, 14));
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        assertThat(report.quantizedCount()).isZero();
        assertThat(report.entries()).extracting(QuantizationReport.Entry::node, QuantizationReport.Entry::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple("weight_first", "its constant is the first input (W @ x); per-column weight scales need the weight second"),
                org.assertj.core.groups.Tuple.tuple("no_constant", "no constant weight: both inputs are computed at run time"),
                org.assertj.core.groups.Tuple.tuple("three_d", "weight 'w3' has rank 3; only 2-D weights are quantized"));
        OnnxChecker.assertValid(write("unsupported.onnx", model));
    }

    @Test
    void convStaysFloatBecauseOnnxRuntimeHasNoIntegerKernelForIt() throws Exception {
        OnnxModel model = OnnxModel.of(TestModels.conv(22));
        ModelProto before = model.build();
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        assertThat(model.build().getGraph()).isEqualTo(before.getGraph());
        assertThat(report.entries()).singleElement().satisfies(e -> {
            assertThat(e.quantized()).isFalse();
            assertThat(e.reason()).contains("no integer kernel", "mode static");
        });
    }

    @Test
    void embeddingTablesAreDequantizedAfterTheLookupAndTinyTablesStayFloat() throws Exception {
        Path original = write("emb.onnx", TestModels.embedding(500, 32, 15));
        OnnxModel model = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("emb-int8.onnx", model);

        List<NodeProto> nodes = model.graph().getNodeList();
        int gather = indexOf(nodes, "lookup");
        assertThat(nodes.get(gather + 1).getOpType()).isEqualTo("DequantizeLinear");
        assertThat(nodes.get(gather + 1).getInput(0)).isEqualTo(nodes.get(gather).getOutput(0));
        assertThat(report.entries()).filteredOn(e -> e.node().equals("tiny_lookup")).singleElement()
                .satisfies(e -> assertThat(e.reason()).contains("is small"));
        long[] ids = {0, 17, 499, 250, 3, 3};
        float[] expected = Ort.runFirstOutput(original, Map.of("ids", new long[][] {ids}));
        float[] actual = Ort.runFirstOutput(quantized, Map.of("ids", new long[][] {ids}));
        float scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            assertThat(Math.abs(actual[i] - expected[i])).isLessThan(scale / 100);
        }
        OnnxChecker.assertValid(quantized);
    }

    @Test
    void withCalibrationDataOutliersAreTamedExactlyAndTheResultIsCloser() throws Exception {
        Path original = write("ffn.onnx", TestModels.feedForwardBlock(32, 16));
        RandomInputs calibration = new RandomInputs(Map.of("x", new long[] {8, 16, 32}), 6, 17);

        OnnxModel smoothed = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(smoothed, PLAIN.withOutlierChannels(4), calibration);
        Path smoothedFile = write("ffn-smoothed.onnx", smoothed);
        OnnxModel plain = OnnxModel.read(original);
        DynamicQuantizer.quantize(plain, PLAIN.withSmoothQuant(OptionalDouble.empty()).withOutlierChannels(0), calibration);
        Path plainFile = write("ffn-plain.onnx", plain);

        assertThat(report.notes().get("outlier_channels")).matches("[1-4] channels of 1 activations .*");
        assertThat(report.notes().get("smoothquant")).contains("1 with a Mul");
        assertThat(report.notes().get("channel_shift")).startsWith("1 activations");
        assertThat(report.notes().get("rewrites")).startsWith("float model unchanged");
        assertThat(report.entries()).filteredOn(e -> e.node().contains("_outliers")).isNotEmpty()
                .allSatisfy(e -> assertThat(e.quantized()).isFalse());
        OnnxChecker.assertValid(smoothedFile, plainFile);

        Map<String, Object> feeds = Map.of("x", new Ort.Floats(floats(new Random(18), 64, 32).data(), 4, 16, 32));
        float[] reference = Ort.runFirstOutput(original, feeds);
        double smoothedError = relativeError(reference, Ort.runFirstOutput(smoothedFile, feeds));
        double plainError = relativeError(reference, Ort.runFirstOutput(plainFile, feeds));
        assertThat(smoothedError).as("error with rewrites %s vs without %s", smoothedError, plainError).isLessThan(plainError / 2);
        Map<String, Integer> ops = OptimizedGraph.opCounts(smoothedFile);
        assertThat(ops).doesNotContainKey("MatMulInteger");
    }

    @Test
    void keepFloatLeavesTheMostSensitiveNodeInFloatAndThatHelps() throws Exception {
        Path original = write("ffn.onnx", TestModels.feedForwardBlock(32, 19));
        RandomInputs calibration = new RandomInputs(Map.of("x", new long[] {8, 16, 32}), 4, 20);
        DynamicOptions noRewrites = PLAIN.withSmoothQuant(OptionalDouble.empty()).withOutlierChannels(0);
        OnnxModel kept = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(kept, noRewrites.withKeepFloat(1), calibration);
        OnnxModel all = OnnxModel.read(original);
        DynamicQuantizer.quantize(all, noRewrites, calibration);

        String chosen = report.notes().get("keep_float");
        assertThat(chosen).startsWith("1 nodes kept float");
        assertThat(report.quantizedCount()).isEqualTo(1);
        assertThat(report.entries()).filteredOn(e -> !e.quantized()).singleElement()
                .satisfies(e -> assertThat(chosen).contains(e.node()));
        Path keptFile = write("ffn-keep.onnx", kept);
        Path allFile = write("ffn-all.onnx", all);
        OnnxChecker.assertValid(keptFile);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(floats(new Random(21), 64, 32).data(), 4, 16, 32));
        float[] reference = Ort.runFirstOutput(original, feeds);
        assertThat(relativeError(reference, Ort.runFirstOutput(keptFile, feeds)))
                .isLessThan(relativeError(reference, Ort.runFirstOutput(allFile, feeds)));
    }

    @Test
    void opsetNineModelsAreUpgradedWithTheirChangedOperatorsConvertedAndStayClose() throws Exception {
        // Dropout (a bool mask at 10) and Slice (attributes became inputs at 10) changed on the way
        Random random = new Random(31);
        var graph = ai.onnx.proto.OnnxMl.GraphProto.newBuilder().setName("old")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 16))
                .addInitializer(io.modelpress.core.onnx.Tensors.ofFloats("w1", new long[] {16, 48}, SmallModels.random(random, 16 * 48, 0.3f)))
                .addInitializer(io.modelpress.core.onnx.Tensors.ofFloats("b1", new long[] {48}, SmallModels.random(random, 48, 0.1f)))
                .addInitializer(io.modelpress.core.onnx.Tensors.ofFloats("w2", new long[] {32, 8}, SmallModels.random(random, 32 * 8, 0.3f)))
                .addNode(Nodes.node("MatMul", "mm1", List.of("x", "w1"), List.of("h0")))
                .addNode(Nodes.node("Add", "add1", List.of("h0", "b1"), List.of("h1")))
                .addNode(Nodes.node("Relu", "relu", List.of("h1"), List.of("h2")))
                .addNode(Nodes.node("Dropout", "drop", List.of("h2"), List.of("h3", "mask"), Nodes.attr("ratio", 0.1f)))
                .addNode(Nodes.node("Slice", "first32", List.of("h3"), List.of("h4"),
                        Nodes.attr("axes", new long[] {1}), Nodes.attr("starts", new long[] {0}), Nodes.attr("ends", new long[] {32})))
                .addNode(Nodes.node("MatMul", "mm2", List.of("h4", "w2"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 8)).build();
        Path original = write("opset9.onnx", SmallModels.model(graph, 9).toBuilder().setIrVersion(4).build());
        OnnxModel model = OnnxModel.read(original);
        QuantizationReport report = DynamicQuantizer.quantize(model, PLAIN, CalibrationData.NONE);
        Path quantized = write("opset9-int8.onnx", model);

        assertThat(model.opset("")).isEqualTo(11);
        assertThat(report.notes().get("opset")).startsWith("upgraded 9 -> 11 (").contains("DynamicQuantizeLinear");
        assertThat(report.quantizedCount()).isEqualTo(2);
        assertThat(opCount(model, "MatMulInteger")).isEqualTo(2);
        OnnxChecker.assertValid(quantized);
        Map<String, Object> feeds = Map.of("x", floats(new Random(32), 6, 16));
        float[] reference = Ort.runFirstOutput(original, feeds);
        float[] actual = Ort.runFirstOutput(quantized, feeds);
        assertThat(io.modelpress.core.eval.Similarity.cosine(reference, actual)).isGreaterThan(0.999);
        assertClose(original, quantized, feeds, 0.03);
    }

    @Test
    void anOldModelThatCannotBeUpgradedIsRefusedSayingWhatDynamicModeNeeds() {
        ModelProto mlp = SmallModels.mlp(8, 16, 4, false, 21);
        // a model-local function over the default domain is not upgraded
        var function = ai.onnx.proto.OnnxMl.FunctionProto.newBuilder().setName("twice").setDomain("local")
                .addInput("a").addOutput("b")
                .addNode(Nodes.node("Add", "add", List.of("a", "a"), List.of("b")))
                .addOpsetImport(ai.onnx.proto.OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(9)).build();
        OnnxModel old = OnnxModel.of(SmallModels.model(mlp.getGraph(), 9).toBuilder().addFunctions(function).build());
        assertThatThrownBy(() -> DynamicQuantizer.quantize(old, PLAIN, CalibrationData.NONE))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_OPSET);
                    assertThat(e.getMessage()).contains("function 'twice'", "opset 9", "opset 11", "DynamicQuantizeLinear");
                });
    }

    @Test
    void recipeKeysBecomeOptions() {
        StageSpec spec = RecipeParser.parse("name: t\nstages:\n  - quantize: { mode: dynamic, weights: uint8, granularity: per-tensor, "
                + "smoothquant: false, outlier_channels: 0, keep_float: 2, embeddings: false, calibration_samples: 64 }\n", "t").stages().get(0);
        DynamicOptions options = DynamicOptions.from(spec);
        assertThat(options.weightType()).isEqualTo(io.modelpress.core.quantize.QuantType.UINT8);
        assertThat(options.perChannel()).isFalse();
        assertThat(options.smoothQuantAlpha()).isEmpty();
        assertThat(options.outlierChannels()).isZero();
        assertThat(options.keepFloat()).isEqualTo(2);
        assertThat(options.embeddings()).isFalse();
        assertThat(options.calibrationSamples()).isEqualTo(64);

        OnnxModel model = OnnxModel.of(SmallModels.mlp(8, 16, 4, false, 23));
        QuantizationReport report = DynamicQuantizer.quantize(model, spec, CalibrationData.NONE);
        assertThat(report.entries()).allSatisfy(e -> assertThat(e.scheme()).startsWith("uint8 per-tensor symmetric"));
        assertThat(report.notes().get("calibration")).contains("data-free");
    }

    @Test
    void fourBitWeightsAreRefusedInDynamicMode() {
        StageSpec spec = RecipeParser.parse("name: t\nstages:\n  - quantize: { mode: dynamic, weights: int4 }\n", "t").stages().get(0);
        assertThatThrownBy(() -> DynamicOptions.from(spec)).isInstanceOfSatisfying(ModelPressException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
            assertThat(e.getMessage()).contains("int4", "weight-only");
        });
    }

    // ------------------------------------------------------------------ helpers

    private Path write(String name, ModelProto proto) {
        return write(name, OnnxModel.of(proto));
    }

    private Path write(String name, OnnxModel model) {
        Path file = dir.resolve(name);
        model.write(file);
        return file;
    }

    private static long opCount(OnnxModel model, String opType) {
        return model.graph().getNodeList().stream().filter(n -> n.getOpType().equals(opType)).count();
    }

    private static NodeProto node(ModelProto model, String name) {
        return model.getGraph().getNodeList().stream().filter(n -> n.getName().equals(name)).findFirst().orElseThrow();
    }

    private static int indexOf(List<NodeProto> nodes, String name) {
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i).getName().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no node " + name);
    }

    /** Gaussian inputs [rows, cols]. */
    static Ort.Floats floats(Random random, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return new Ort.Floats(v, rows, cols);
    }

    private static void assertClose(Path original, Path quantized, Map<String, Object> feeds, double maxRelativeError) {
        float[] expected = Ort.runFirstOutput(original, feeds);
        float[] actual = Ort.runFirstOutput(quantized, feeds);
        assertThat(actual).hasSameSizeAs(expected);
        double error = relativeError(expected, actual);
        assertThat(error).as("relative error").isLessThan(maxRelativeError).isGreaterThan(0);
    }

    /** ||a - b|| / ||a||. */
    static double relativeError(float[] a, float[] b) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < a.length; i++) {
            diff += (a[i] - b[i]) * (double) (a[i] - b[i]);
            norm += (double) a[i] * a[i];
        }
        return Math.sqrt(diff / norm);
    }
}
