package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.Similarity;
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

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StaticQuantizerTest {
    private static final long[] IMAGE = {1, 28, 28};

    @TempDir
    Path dir;

    static StageSpec spec(String keys) {
        return RecipeParser.parse("stages:\n  - quantize: { mode: static" + (keys.isEmpty() ? "" : ", " + keys) + " }\n", "test.yaml")
                .stages().get(0);
    }

    /** Quantizes a copy of {@code original}, writes both, and returns the cosine of their outputs on random inputs. */
    private double quantizeAndCompare(ModelProto original, String input, long[] sampleShape, StageSpec spec, Path out,
                                      QuantizationReport[] report) {
        OnnxModel model = OnnxModel.of(original);
        report[0] = StaticQuantizer.quantize(model, spec, TestCnns.randomData(input, sampleShape, 1));
        model.write(out);
        Path reference = out.resolveSibling("reference-" + out.getFileName());
        OnnxModel.of(original).write(reference);
        int perSample = (int) java.util.Arrays.stream(sampleShape).reduce(1, (a, b) -> a * b);
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = 8;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        Map<String, Object> feed = Map.of(input, new Ort.Floats(TestCnns.randomInputs(2, 8 * perSample), shape));
        return Similarity.cosine(Ort.runFirstOutput(reference, feed), Ort.runFirstOutput(out, feed));
    }

    @Test
    void cnnRunsOnIntegerKernelsAndStaysFaithful() {
        Path out = dir.resolve("cnn-int8.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        double cosine = quantizeAndCompare(TestCnns.fashionLike(16, 32, 64, false, 1), "input", IMAGE, spec(""), out, report);
        assertThat(cosine).isGreaterThan(0.999);

        Map<String, Integer> ops = TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"));
        // conv2 and both Gemms run as integer kernels; conv1 reads a single channel and stays float on purpose
        assertThat(ops).containsEntry("com.microsoft:QLinearConv", 1).containsEntry("com.microsoft:QGemm", 2);
        assertThat(ops.keySet()).noneMatch(op -> op.endsWith("Gemm") && !op.endsWith("QGemm"));
        assertThat(ops.keySet()).noneMatch(op -> op.equals("MaxPool") || op.equals("DequantizeLinear"));
        assertThat(report[0].entries()).filteredOn(e -> e.node().equals("conv1")).singleElement()
                .satisfies(e -> assertThat(e.reason()).contains("1 input channel"));
        assertThat(report[0].entries()).filteredOn(e -> e.node().equals("conv2")).singleElement().satisfies(e -> {
            assertThat(e.quantized()).isTrue();
            assertThat(e.scheme()).contains("int8 per-channel symmetric weights", "int32 bias", "absorbs Relu");
            assertThat(e.minScale()).isPositive().isLessThanOrEqualTo(e.maxScale());
        });
        assertThat(report[0].notes()).containsEntry("batchnorm_folded", "2 of 2");
        // size: int8 weights instead of float
        long before = OnnxModel.fileBytes(out.resolveSibling("reference-cnn-int8.onnx"));
        assertThat((double) OnnxModel.fileBytes(out) / before).isLessThan(0.3);
        OnnxChecker.assertValid(out);
    }

    @Test
    void namingASmallConvInTheIncludeListQuantizesIt() {
        Path out = dir.resolve("all.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        String keys = "include: { nodes: [conv1], ops: [Conv, Gemm, MaxPool, Flatten] }";
        assertThat(quantizeAndCompare(TestCnns.fashionLike(16, 32, 64, false, 1), "input", IMAGE, spec(keys), out, report)).isGreaterThan(0.999);
        assertThat(TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"))).containsEntry("com.microsoft:QLinearConv", 2);
    }

    @Test
    void weightsInConstantNodesAreQuantizedToo() {
        Path out = dir.resolve("constants.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        assertThat(quantizeAndCompare(TestCnns.fashionLike(16, 32, 64, true, 4), "input", IMAGE, spec(""), out, report)).isGreaterThan(0.999);
        OnnxModel written = OnnxModel.read(out);
        // no float weight survives as a Constant node: the only float Constant left would be a scale
        for (NodeProto node : written.graph().getNodeList()) {
            if (node.getOpType().equals("Constant")) {
                TensorProto value = node.getAttribute(0).getT();
                assertThat(DataType.of(value) != DataType.FLOAT || Tensors.elementCount(value) <= 16 * 9)
                        .as("constant %s", node.getOutput(0)).isTrue();
            }
        }
        assertThat(TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"))).containsEntry("com.microsoft:QLinearConv", 1)
                .containsEntry("com.microsoft:QGemm", 2);
        OnnxChecker.assertValid(out);
    }

    @Test
    void residualAddConcatAndPoolingBecomeIntegerKernels() {
        Path out = dir.resolve("residual.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        double cosine = quantizeAndCompare(TestCnns.residual(3), "x", new long[] {8, 16, 16}, spec(""), out, report);
        assertThat(cosine).isGreaterThan(0.995);
        Map<String, Integer> ops = TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"));
        assertThat(ops).containsEntry("com.microsoft:QLinearConv", 3).containsEntry("com.microsoft:QLinearAdd", 1)
                .containsEntry("com.microsoft:QLinearConcat", 1).containsEntry("com.microsoft:QLinearGlobalAveragePool", 1)
                .containsEntry("com.microsoft:QGemm", 1);
        assertThat(ops.keySet()).noneMatch(op -> op.equals("Conv") || op.equals("Add") || op.equals("Relu") || op.equals("DequantizeLinear"));
        assertThat(report[0].quantizedCount()).isEqualTo(8);
        OnnxChecker.assertValid(out);
    }

    @Test
    void depthwiseConvolutionsAndRelu6BecomeIntegerKernels() {
        Path out = dir.resolve("mobile.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        // inputs in [0, 1) through 8 channels: a residual Add of the block output and its input
        double cosine = quantizeAndCompare(TestCnns.invertedResidual(5), "x", new long[] {8, 16, 16}, spec(""), out, report);
        assertThat(cosine).isGreaterThan(0.995);
        Map<String, Integer> ops = TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"));
        assertThat(ops).containsEntry("com.microsoft:QLinearConv", 3).containsEntry("com.microsoft:QLinearAdd", 1)
                .containsEntry("com.microsoft:QGemm", 1);
        assertThat(ops.keySet()).noneMatch(op -> op.equals("Clip") || op.equals("Conv") || op.equals("DequantizeLinear"));
        assertThat(report[0].entries()).filteredOn(e -> e.node().equals("dw")).singleElement()
                .satisfies(e -> assertThat(e.scheme()).contains("absorbs Clip 'dw.relu6'"));
        OnnxChecker.assertValid(out);
    }

    @Test
    void everyActivationSchemeRunsAndStaysFaithful() {
        String[] variants = {
                "activations: int8",
                "symmetric_activations: true",
                "granularity: per-tensor, symmetric_weights: false",
                "weights: uint8, granularity: per-tensor",
                "calibration: minmax",
                "calibration: entropy",
                "calibration: mse",
                "calibration: percentile, percentile: 99.9",
                "fold_batchnorm: false"};
        for (String keys : variants) {
            Path out = dir.resolve("variant.onnx");
            QuantizationReport[] report = new QuantizationReport[1];
            double cosine = quantizeAndCompare(TestCnns.residual(5), "x", new long[] {8, 16, 16}, spec(keys), out, report);
            assertThat(cosine).as(keys).isGreaterThan(0.99);
            assertThat(report[0].quantizedCount()).as(keys).isGreaterThan(3);
        }
    }

    @Test
    void excludedNodesStayInFloat() {
        Path out = dir.resolve("excluded.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        quantizeAndCompare(TestCnns.fashionLike(16, 32, 64, false, 1), "input", IMAGE, spec("exclude: { ops: [Gemm] }"), out, report);
        assertThat(report[0].entries()).filteredOn(e -> e.opType().equals("Gemm")).hasSize(2)
                .allSatisfy(e -> assertThat(e.reason()).isEqualTo("excluded by the recipe"));
        Map<String, Integer> ops = TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"));
        assertThat(ops).doesNotContainKey("com.microsoft:QGemm").containsEntry("com.microsoft:QLinearConv", 1);
    }

    @Test
    void keepFloatLeavesTheMostSensitiveLayersInFloat() {
        Path out = dir.resolve("kept.onnx");
        QuantizationReport[] report = new QuantizationReport[1];
        quantizeAndCompare(TestCnns.residual(7), "x", new long[] {8, 16, 16}, spec("keep_float: 2"), out, report);
        assertThat(report[0].entries()).filteredOn(e -> !e.quantized() && e.reason().startsWith("kept in float (keep_float: 2)")).hasSize(2);
        assertThat(report[0].entries()).filteredOn(e -> e.quantized() && List.of("Conv", "Gemm").contains(e.opType())).hasSize(2);
    }

    @Test
    void subgraphsAreLeftAsTheyAre() {
        Random random = new Random(9);
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addNode(Nodes.node("Mul", "then_mul", List.of("h", "two"), List.of("then_y")))
                .addOutput(Nodes.tensorInfo("then_y", DataType.FLOAT, "batch", 16)).build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                .addNode(Nodes.node("Add", "else_add", List.of("h", "two"), List.of("else_y")))
                .addOutput(Nodes.tensorInfo("else_y", DataType.FLOAT, "batch", 16)).build();
        GraphProto g = GraphProto.newBuilder().setName("branchy")
                .addInput(Nodes.tensorInfo("cond", DataType.BOOL))
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 32))
                .addInitializer(Tensors.ofFloats("w1", new long[] {32, 16}, SmallModels.random(random, 512, 0.3f)))
                .addInitializer(Tensors.ofFloats("w2", new long[] {16, 16}, SmallModels.random(random, 256, 0.3f)))
                .addInitializer(Tensors.scalarFloat("two", 2f))
                .addNode(Nodes.node("MatMul", "mm1", List.of("x", "w1"), List.of("h0")))
                .addNode(Nodes.node("Relu", "relu", List.of("h0"), List.of("h")))
                .addNode(Nodes.node("MatMul", "mm2", List.of("h", "w2"), List.of("z")))
                .addNode(Nodes.node("If", "branch", List.of("cond"), List.of("y"),
                        Nodes.attr("then_branch", thenBranch), Nodes.attr("else_branch", elseBranch)))
                .addOutput(Nodes.tensorInfo("z", DataType.FLOAT, "batch", 16))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 16)).build();
        ModelProto original = SmallModels.model(g, 17);
        OnnxModel model = OnnxModel.of(original);
        CalibrationData data = (max, consumer) -> TestCnns.randomData("x", new long[] {32}, 3).forEachBatch(max, (inputs, n) -> {
            try (var cond = ai.onnxruntime.OnnxTensor.createTensor(ai.onnxruntime.OrtEnvironment.getEnvironment(), true)) {
                consumer.accept(Map.of("x", inputs.get("x"), "cond", cond), n);
            }
        });
        QuantizationReport report = StaticQuantizer.quantize(model, spec(""), data);
        assertThat(report.quantizedCount()).isEqualTo(2);
        NodeProto branch = model.graph().getNodeList().stream().filter(n -> n.getOpType().equals("If")).findFirst().orElseThrow();
        assertThat(branch.getAttributeList()).isEqualTo(original.getGraph().getNode(3).getAttributeList());
        Path out = dir.resolve("branchy.onnx");
        model.write(out);
        Path reference = dir.resolve("branchy-reference.onnx");
        OnnxModel.of(original).write(reference);
        float[] x = TestCnns.randomInputs(4, 4 * 32);
        for (boolean cond : new boolean[] {true, false}) {
            Map<String, Object> feed = Map.of("cond", cond, "x", new Ort.Floats(x, 4, 32));
            assertThat(Similarity.cosine(Ort.runFirstOutput(reference, feed), Ort.runFirstOutput(out, feed))).isGreaterThan(0.999);
        }
        OnnxChecker.assertValid(out);
    }

    /** Gaussian rows of 64 features whose channel 5 is 60 times larger than the rest: one outlier channel. */
    private static float[] outlierRows(long seed, int rows) {
        Random random = new Random(seed);
        float[] x = new float[rows * 64];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * (i % 64 == 5 ? 60 : 1));
        }
        return x;
    }

    /**
     * A transformer-style block: a residual Add of a MatMul's float output and the block input, and a GELU-like
     * Mul(h, Sigmoid(h)). Neither join has all its inputs in 8 bits anyway, so both stay float (quantizing them
     * collapsed e5-small-v2); naming a join in include.nodes quantizes it anyway.
     */
    @Test
    void joinsOfFloatValuesStayFloatUnlessNamed() {
        Random random = new Random(21);
        GraphProto g = GraphProto.newBuilder().setName("block")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 32))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 32))
                .addInitializer(Tensors.ofFloats("w1", new long[] {32, 32}, SmallModels.random(random, 32 * 32, 0.2f)))
                .addInitializer(Tensors.ofFloats("w2", new long[] {32, 32}, SmallModels.random(random, 32 * 32, 0.2f)))
                .addNode(Nodes.node("MatMul", "mm1", List.of("x", "w1"), List.of("h")))
                .addNode(Nodes.node("Sigmoid", "gate", List.of("h"), List.of("s")))
                .addNode(Nodes.node("Mul", "gelu_like", List.of("h", "s"), List.of("a")))
                .addNode(Nodes.node("MatMul", "mm2", List.of("a", "w2"), List.of("m")))
                .addNode(Nodes.node("Add", "residual", List.of("m", "x"), List.of("y"))).build();
        ModelProto original = SmallModels.model(g, 17);
        CalibrationData data = TestCnns.randomData("x", new long[] {32}, 3);

        OnnxModel model = OnnxModel.of(original);
        QuantizationReport report = StaticQuantizer.quantize(model, spec(""), data);
        assertThat(report.entries()).filteredOn(QuantizationReport.Entry::quantized).extracting(QuantizationReport.Entry::node)
                .containsExactlyInAnyOrder("mm1", "mm2");
        Path out = dir.resolve("block.onnx");
        model.write(out);
        Map<String, Object> feed = Map.of("x", new Ort.Floats(TestCnns.randomInputs(4, 8 * 32), 8, 32));
        Path reference = dir.resolve("block-fp32.onnx");
        OnnxModel.of(original).write(reference);
        assertThat(Similarity.cosine(Ort.runFirstOutput(reference, feed), Ort.runFirstOutput(out, feed))).isGreaterThan(0.999);
        OnnxChecker.assertValid(out);

        OnnxModel named = OnnxModel.of(original);
        QuantizationReport forced = StaticQuantizer.quantize(named, spec("include: { nodes: [mm1, mm2, gelu_like, residual] }"), data);
        assertThat(forced.entries()).filteredOn(QuantizationReport.Entry::quantized).extracting(QuantizationReport.Entry::node)
                .containsExactlyInAnyOrder("mm1", "mm2", "gelu_like", "residual");
    }

    @Test
    void embeddingTablesAreStoredAsEightBitUnlessTurnedOff() {
        Random random = new Random(31);
        GraphProto g = GraphProto.newBuilder().setName("lookup")
                .addInput(Nodes.tensorInfo("ids", DataType.INT64, "batch", 6))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 6, 16))
                .addInitializer(Tensors.ofFloats("table", new long[] {1000, 32}, SmallModels.random(random, 1000 * 32, 1f)))
                .addInitializer(Tensors.ofFloats("w", new long[] {32, 16}, SmallModels.random(random, 32 * 16, 0.2f)))
                .addNode(Nodes.node("Gather", "embed", List.of("table", "ids"), List.of("e")))
                .addNode(Nodes.node("MatMul", "mm", List.of("e", "w"), List.of("y"))).build();
        ModelProto original = SmallModels.model(g, 17);
        CalibrationData data = TestCnns.randomIds("ids", new long[] {6}, 1000, 32);
        Path reference = dir.resolve("lookup.onnx");
        OnnxModel.of(original).write(reference);
        Random probe = new Random(33);
        long[][] ids = new long[4][];
        for (int row = 0; row < ids.length; row++) {
            ids[row] = probe.longs(6, 0, 1000).toArray();
        }
        Map<String, Object> feed = Map.of("ids", ids);
        float[] expected = Ort.runFirstOutput(reference, feed);

        OnnxModel model = OnnxModel.of(original);
        QuantizationReport report = StaticQuantizer.quantize(model, spec(""), data);
        Path out = dir.resolve("lookup-int8.onnx");
        model.write(out);
        assertThat(report.entries()).filteredOn(e -> e.node().equals("embed")).singleElement()
                .satisfies(e -> assertThat(e.quantized()).isTrue());
        assertThat(model.graph().getInitializerList()).noneMatch(t -> t.getName().equals("table"))
                .anyMatch(t -> t.getDataType() == TensorProto.DataType.UINT8.getNumber() && t.getDimsCount() == 2 && t.getDims(0) == 1000);
        assertThat(Similarity.cosine(expected, Ort.runFirstOutput(out, feed))).isGreaterThan(0.999);
        OnnxChecker.assertValid(out);

        OnnxModel floatTables = OnnxModel.of(original);
        StaticQuantizer.quantize(floatTables, spec("embeddings: false"), data);
        assertThat(floatTables.graph().getInitializerList()).anyMatch(t -> t.getName().equals("table"));
    }

    @Test
    void smoothQuantMovesAnOutlierChannelIntoTheWeights() {
        Random random = new Random(12);
        GraphProto g = GraphProto.newBuilder().setName("linear")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 64))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 32))
                .addInitializer(Tensors.ofFloats("w", new long[] {64, 32}, SmallModels.random(random, 64 * 32, 0.2f)))
                .addNode(Nodes.node("MatMul", "mm", List.of("x", "w"), List.of("y"))).build();
        ModelProto original = SmallModels.model(g, 17);
        CalibrationData data = (max, consumer) -> {
            for (int done = 0; done < max; done += 16) {
                try (var t = ai.onnxruntime.OnnxTensor.createTensor(ai.onnxruntime.OrtEnvironment.getEnvironment(),
                        java.nio.FloatBuffer.wrap(outlierRows(done, 16)), new long[] {16, 64})) {
                    consumer.accept(Map.of("x", t), 16);
                } catch (ai.onnxruntime.OrtException e) {
                    throw new AssertionError(e);
                }
            }
        };
        Path reference = dir.resolve("linear.onnx");
        OnnxModel.of(original).write(reference);
        Map<String, Object> feed = Map.of("x", new Ort.Floats(outlierRows(99, 32), 32, 64));
        float[] expected = Ort.runFirstOutput(reference, feed);
        double[] errors = new double[2];
        String[] keys = {"smoothquant: false", "smoothquant: 0.5"};
        for (int i = 0; i < 2; i++) {
            OnnxModel model = OnnxModel.of(original);
            QuantizationReport report = StaticQuantizer.quantize(model, spec(keys[i]), data);
            Path out = dir.resolve("linear-" + i + ".onnx");
            model.write(out);
            float[] actual = Ort.runFirstOutput(out, feed);
            double num = 0;
            double den = 0;
            for (int j = 0; j < expected.length; j++) {
                num += (expected[j] - actual[j]) * (expected[j] - actual[j]);
                den += expected[j] * expected[j];
            }
            errors[i] = Math.sqrt(num / den);
            if (i == 1) {
                assertThat(report.notes().get("smoothquant")).startsWith("alpha 0.5 on 1 activation");
                assertThat(report.entries()).singleElement().satisfies(e -> assertThat(e.scheme()).contains("SmoothQuant alpha 0.5"));
                assertThat(TestCnns.optimizedOps(out, dir.resolve("optimized.onnx"))).containsKey("com.microsoft:MatMulIntegerToFloat")
                        .doesNotContainKey("MatMul");
                OnnxChecker.assertValid(out);
            }
        }
        // per-tensor activation scales spend 8 bits on the outlier channel alone; smoothing spreads it over the weights
        assertThat(errors[1]).as("relative error with SmoothQuant vs without: %s", java.util.Arrays.toString(errors)).isLessThan(errors[0] / 2);
    }

    @Test
    void smoothQuantLeavesInputsThatArriveQuantizedAlone() {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(16, 32, 64, false, 1));
        QuantizationReport report = StaticQuantizer.quantize(model, spec("smoothquant: 0.5"), TestCnns.randomData("input", IMAGE, 1));
        assertThat(report.notes().get("smoothquant")).contains("nothing to smooth");
        assertThat(model.graph().getNodeList()).noneMatch(n -> n.getName().endsWith("_SmoothQuant"));
    }

    @Test
    void refusesWithoutDataAndUpgradesOldOpsets() {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(4, 8, 16, false, 1));
        assertThatThrownBy(() -> StaticQuantizer.quantize(model, spec(""), CalibrationData.NONE))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
                    assertThat(e.detail()).isEqualTo("static quantization needs calibration data (--data)");
                });
        OnnxModel old = OnnxModel.of(TestCnns.fashionLike(4, 8, 16, false, 1));
        old.setOpset("", 11);
        QuantizationReport upgraded = StaticQuantizer.quantize(old, spec(""), TestCnns.randomData("input", IMAGE, 1));
        assertThat(upgraded.notes().get("opset")).startsWith("upgraded 11 -> 13");
        assertThat(old.opset("")).isEqualTo(13);
        assertThat(upgraded.quantizedCount()).isPositive();
        assertThatThrownBy(() -> StaticQuantizer.quantize(model, spec("weights: int4"), TestCnns.randomData("input", IMAGE, 1)))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE));
    }
}
