package io.modelpress.examples.fashion;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.qdq.StaticQuantizer;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Static INT8 quantization of the Fashion-MNIST CNN teacher, judged on the 10,000 test images. Runs after
 * {@link FashionMnistTeacherTest}, which trains the teacher into the shared models folder; skipped without the
 * Debian dataset.
 */
@Order(2)
class TeacherStaticQuantizationTest {
    static final Path DATA = FashionMnist.DEFAULT_DIR;
    private static Path teacher;

    @TempDir
    Path dir;

    @BeforeAll
    static void teacher() {
        assumeTrue(FashionMnist.isPresent(DATA), "Fashion-MNIST is not installed: " + FashionMnist.INSTALL_HINT);
        teacher = FashionMnistTeacher.trainOrLoad(FashionMnistTeacher.defaultCacheDir());
    }

    private static void assumeTeacherAndData() {
        assumeTrue(teacher != null && Files.isRegularFile(teacher), "no teacher model");
    }

    static StageSpec spec(String keys) {
        return RecipeParser.parse("stages:\n  - quantize: { mode: static" + (keys.isEmpty() ? "" : ", " + keys) + " }\n", "test.yaml")
                .stages().get(0);
    }

    private QuantizationReport quantize(String keys, Path out) {
        OnnxModel model = OnnxModel.read(teacher);
        QuantizationReport report = StaticQuantizer.quantize(model, spec(keys),
                new DatasetCalibration(DATA, model.inputs(), DataOptions.DEFAULT.withSplit("train")));
        model.write(out);
        return report;
    }

    @Test
    void int8TeacherKeepsItsAccuracyAtAQuarterOfTheSize() {
        assumeTeacherAndData();
        Path int8 = dir.resolve("teacher-int8.onnx");
        QuantizationReport report = quantize("", int8);

        EvaluationReport eval = Evaluator.run(EvaluationRequest.of(int8, DATA).withReference(teacher).withLatencyBudget(Duration.ZERO)
                .withSession(SessionSettings.DEFAULT.withThreads(1)));
        assertThat(eval.samples()).isEqualTo(10_000);
        double dropPoints = 100 * (eval.referenceAccuracy() - eval.accuracy());
        assertThat(dropPoints).as("top-1 accuracy drop in points (fp32 %.4f, int8 %.4f)", eval.referenceAccuracy(), eval.accuracy())
                .isLessThanOrEqualTo(0.3);
        assertThat((double) eval.size().fileBytes() / eval.referenceSize().fileBytes()).isLessThanOrEqualTo(0.27);

        // every Conv/Gemm the report calls quantized runs as an integer kernel; the only float one is the first
        // convolution, which reads a single channel (kept in float on purpose: ONNX Runtime's integer kernel is slower)
        List<QuantizationReport.Entry> weighted = report.entries().stream().filter(e -> List.of("Conv", "Gemm").contains(e.opType())).toList();
        assertThat(weighted).filteredOn(e -> !e.quantized()).singleElement()
                .satisfies(e -> assertThat(e.reason()).contains("1 input channel"));
        Map<String, Integer> ops = TestCnns.optimizedOps(int8, dir.resolve("optimized.onnx"));
        long convs = weighted.stream().filter(e -> e.quantized() && e.opType().equals("Conv")).count();
        long gemms = weighted.stream().filter(e -> e.quantized() && e.opType().equals("Gemm")).count();
        assertThat(ops.getOrDefault("com.microsoft:QLinearConv", 0)).isEqualTo(convs);
        assertThat(ops.getOrDefault("com.microsoft:QGemm", 0)).isEqualTo(gemms);
        assertThat(ops.keySet()).noneMatch(op -> op.endsWith("Gemm") && !op.endsWith("QGemm") || op.endsWith("MatMul"));
        assertThat(ops.keySet()).noneMatch(op -> op.equals("DequantizeLinear"));
        OnnxChecker.assertValid(int8);
    }

    @Test
    void namingTheFirstConvTurnsEveryConvAndGemmIntoAnIntegerKernel() {
        assumeTeacherAndData();
        String firstConv = OnnxModel.read(teacher).graph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv"))
                .map(NodeProto::getName).findFirst().orElseThrow();
        Path int8 = dir.resolve("teacher-all-int8.onnx");
        quantize("include: { nodes: ['" + firstConv + "'], ops: [Conv, Gemm, MaxPool, Flatten] }", int8);
        long convs = OnnxModel.read(teacher).graph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv")).count();
        long gemms = OnnxModel.read(teacher).graph().getNodeList().stream().filter(n -> n.getOpType().equals("Gemm")).count();
        Map<String, Integer> ops = TestCnns.optimizedOps(int8, dir.resolve("optimized.onnx"));
        assertThat(ops).containsEntry("com.microsoft:QLinearConv", (int) convs).containsEntry("com.microsoft:QGemm", (int) gemms);
        assertThat(ops.keySet()).noneMatch(op -> op.endsWith(":Conv") || op.equals("Conv") || op.endsWith("FusedConv"));
        EvaluationReport eval = Evaluator.run(EvaluationRequest.of(int8, DATA).withReference(teacher).withLatencyBudget(Duration.ZERO)
                .withDataOptions(DataOptions.DEFAULT.withLimit(2000)).withSession(SessionSettings.DEFAULT.withThreads(1)));
        assertThat(eval.agreement()).isGreaterThan(0.98);
    }
}
