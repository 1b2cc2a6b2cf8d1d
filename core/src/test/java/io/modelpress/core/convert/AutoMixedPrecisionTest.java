package io.modelpress.core.convert;

import ai.onnx.proto.OnnxMl.GraphProto;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.convert.ConversionReport.KeptNode;
import io.modelpress.core.convert.ConversionReport.Rule;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/** The check on data: what it keeps in float32 beyond the static rules, and that a failed check is reported as failed. */
class AutoMixedPrecisionTest {
    @TempDir
    Path dir;

    private static AutoMixedPrecision.Settings synthetic(OnnxModel model, double minCosine) {
        return new AutoMixedPrecision.Settings(new DatasetCalibration(null, model.inputs(), DataOptions.DEFAULT.withLimit(8)),
                "synthetic inputs", 8, minCosine, 1);
    }

    /**
     * y = x + 10000, passed through {@code links} no-op nodes (Cast to float, then Identity), minus 10000: the way an
     * offset that is added and taken off again reaches ONNX. No constant is beyond float16 and no value overflows, but
     * float16 holds x + 10000 in steps of 8, so y loses x. Only the output check finds it, walking back from the
     * subtraction, one node per attempt, through the float32 nodes it has already kept, to the addition.
     */
    static OnnxModel offsetModel(int links) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("offset")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 8))
                .addNode(Nodes.constant(Tensors.scalarFloat("offset", 10000f)))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Add", "shift", List.of("r", "offset"), List.of("s0")))
                .addNode(Nodes.node("Cast", "as.float", List.of("s0"), List.of("s1"), Nodes.attr("to", (long) DataType.FLOAT.onnxId())));
        for (int i = 1; i < links; i++) {
            g.addNode(Nodes.node("Identity", "link" + i, List.of("s" + i), List.of("s" + (i + 1))));
        }
        g.addNode(Nodes.node("Sub", "unshift", List.of("s" + links, "offset"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 8));
        return OnnxModel.of(SmallModels.model(g.build(), 17));
    }

    @Test
    void theOutputCheckKeepsWhatNoStaticRuleOrRangeSees() {
        OnnxModel model = offsetModel(1);
        Path original = dir.resolve("offset.onnx");
        model.write(original);
        ConversionReport report = AutoMixedPrecision.convert(model, Float16Converter.Options.DEFAULT, synthetic(model, 0.999));
        Path converted = dir.resolve("offset-fp16.onnx");
        model.write(converted);

        assertThat(report.check().passed()).isTrue();
        assertThat(report.check().attempts()).isGreaterThan(1);
        assertThat(report.keptNodes()).extracting(KeptNode::node, KeptNode::rule).containsExactlyInAnyOrder(
                tuple("shift", Rule.OUTPUT_CHECK), tuple("as.float", Rule.OUTPUT_CHECK), tuple("unshift", Rule.OUTPUT_CHECK));
        assertThat(report.keptNodes()).extracting(KeptNode::reason).anySatisfy(r -> assertThat(r).contains("its output differs from float32"))
                .anySatisfy(r -> assertThat(r).contains("feeds 'unshift'"));
        assertThat(report.convertedNodes()).isEqualTo(1); // the Relu

        float[] x = SmallModels.random(new Random(21), 3 * 8, 2f);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(x, 3, 8));
        assertThat(Fidelity.cosine(Ort.runFirstOutput(original, feeds), Ort.runFirstOutput(converted, feeds))).isGreaterThan(0.999);
        OnnxChecker.assertValid(converted);
    }

    /** Ten links take more attempts than the check has: it must end failed, and say so. */
    @Test
    void aCheckThatRunsOutOfAttemptsIsReportedAsFailedNotPassed() {
        OnnxModel model = offsetModel(10);
        ConversionReport report = AutoMixedPrecision.convert(model, Float16Converter.Options.DEFAULT, synthetic(model, 0.999));

        assertThat(report.check().passed()).isFalse();
        assertThat(report.check().failure()).contains("float16 outputs still differ from float32 after " + AutoMixedPrecision.MAX_ATTEMPTS
                + " attempts").contains("'y' cosine").contains("bound 0.999");
        assertThat(report.check().attempts()).isEqualTo(AutoMixedPrecision.MAX_ATTEMPTS);
        assertThat(report.check().cosines().get("y")).isLessThan(0.999);
        JsonNode json = report.toJson().get("check");
        assertThat(json.get("passed").asBoolean()).isFalse();
        assertThat(json.get("failure").asText()).isEqualTo(report.check().failure());
    }

    @Test
    void theConvertStageChecksOnSyntheticInputsWithoutDataAndFailsItsGateWhenTheCheckFails() throws Exception {
        Path input = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(16, 32, 4, false, 3)).write(input);
        Path offset = dir.resolve("offset.onnx");
        offsetModel(10).write(offset);

        StageOutcome passed = Stages.forType("convert").run(context(input, "to: fp16", "pass"));
        assertThat(passed.gatePassed()).isTrue();
        JsonNode check = passed.report().get("check");
        assertThat(check.get("passed").asBoolean()).isTrue();
        assertThat(check.get("data").asText()).contains("synthetic");
        assertThat(check.get("samples").asInt()).isEqualTo(AutoMixedPrecision.DEFAULT_SAMPLES);
        assertThat(check.get("cosine").get("y").asDouble()).isGreaterThanOrEqualTo(AutoMixedPrecision.DEFAULT_MIN_COSINE);
        assertThat(passed.report().get("kept").isArray()).isTrue();

        StageOutcome failed = Stages.forType("convert").run(context(offset, "to: fp16", "fail"));
        assertThat(failed.gatePassed()).isFalse();
        assertThat(failed.gateFailure()).contains("float16 outputs").contains("'y'");
        assertThat(failed.report().get("check").get("passed").asBoolean()).isFalse();
        assertThat(failed.model()).exists(); // written for inspection; the run fails on the gate

        StageOutcome unchecked = Stages.forType("convert").run(context(input, "check_samples: 0", "static"));
        assertThat(unchecked.gatePassed()).isTrue();
        assertThat(unchecked.report().get("check").asText()).contains("not run");
        OnnxChecker.assertValid(passed.model(), unchecked.model());
    }

    private StageContext context(Path input, String params, String name) throws Exception {
        Path work = Files.createDirectories(dir.resolve(name));
        return new StageContext(Float16ConverterTest.stage(params), input, input, List.of(), null, work, 1, null);
    }
}
