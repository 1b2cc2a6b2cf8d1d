package io.modelpress.core.eval;

import ai.onnx.proto.OnnxMl.GraphProto;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A model that returns NaN for some samples (Sqrt of a negative input) against one that does not: the evaluation
 * warns with the count, prints NaN rather than a number, and a cosine gate fails; an eval stage without a gate says so.
 */
class NonFiniteOutputsTest {
    static final int FEATURES = 4;
    static final int CLASSES = 3;
    static final int SAMPLES = 40;

    @TempDir
    Path dir;

    final Random random = new Random(5);
    final float[] weights = SmallModels.random(random, FEATURES * CLASSES, 1);
    final float[] bias = SmallModels.random(random, CLASSES, 0.1f);

    /** Positive features, except one negative feature in every fifth sample. */
    Path data() {
        float[] x = new float[SAMPLES * FEATURES];
        for (int i = 0; i < x.length; i++) {
            x[i] = 0.1f + Math.abs((float) random.nextGaussian());
        }
        for (int s = 0; s < SAMPLES; s += 5) {
            x[s * FEATURES + 2] = -1;
        }
        Path file = dir.resolve("x.npz");
        NpyWriter.writeNpz(file, Map.of("x", HostArray.of(x, SAMPLES, FEATURES)), false);
        return file;
    }

    /** logits = sqrt(x) @ W + B (NaN in every logit of a sample with a negative feature) or x @ W + B. */
    Path linear(String name, boolean sqrt) {
        GraphProto.Builder g = GraphProto.newBuilder().setName(name)
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "N", FEATURES))
                .addOutput(Nodes.tensorInfo("logits", DataType.FLOAT, "N", CLASSES))
                .addInitializer(Tensors.ofFloats("W", new long[] {FEATURES, CLASSES}, weights))
                .addInitializer(Tensors.ofFloats("B", new long[] {CLASSES}, bias));
        String features = "x";
        if (sqrt) {
            g.addNode(Nodes.node("Sqrt", "sqrt", List.of("x"), List.of("root")));
            features = "root";
        }
        g.addNode(Nodes.node("MatMul", "matmul", List.of(features, "W"), List.of("scores")))
                .addNode(Nodes.node("Add", "add", List.of("scores", "B"), List.of("logits")));
        Path file = dir.resolve(name + ".onnx");
        OnnxModel.of(SmallModels.model(g.build(), 13)).write(file);
        return file;
    }

    @Test
    void nanOutputsAreCountedWarnedAboutAndPrintedAsNaN() {
        EvaluationReport report = Evaluator.run(EvaluationRequest.of(linear("sqrt", true), data())
                .withReference(linear("plain", false)).withBatchSize(8).withLatencyBudget(Duration.ZERO));

        int expected = SAMPLES / 5 * CLASSES;
        assertThat(report.nonFiniteValues()).containsExactlyEntriesOf(Map.of("logits", (long) expected));
        assertThat(report.referenceNonFiniteValues()).isEmpty();
        assertThat(report.notes()).anySatisfy(n -> assertThat(n)
                .startsWith("warning: the model's output 'logits' holds " + expected + " NaN or infinite values")
                .contains("cosine, MSE and KL are NaN"));
        EvaluationReport.OutputMetrics logits = report.outputs().get("logits");
        assertThat(logits.cosine().mean()).isNaN();
        assertThat(logits.cosine().worst()).isNaN();
        assertThat(logits.mse().worst()).isNaN();
        assertThat(report.toText()).contains("cosine        mean NaN  min NaN").doesNotContain("0.00000");

        JsonNode json = report.toJson();
        assertThat(json.get("outputs").get("logits").get("cosine").get("mean").isNull()).as("JSON has no NaN: null").isTrue();
        assertThat(json.get("non_finite_values").get("logits").asLong()).isEqualTo(expected);
        assertThat(json.has("reference_non_finite_values")).isFalse();
    }

    @Test
    void aCosineGateFailsOnNaN() {
        StageOutcome outcome = evalStage("{ metrics: [cosine], gate: { min_cosine: 0.5 } }");
        assertThat(outcome.gatePassed()).isFalse();
        assertThat(outcome.gateFailure()).contains("min_cosine");
        assertThat(outcome.report().get("gate").asText()).isEqualTo("failed");
        assertThat(outcome.report().get("notes").toString()).contains("warning: the model's output 'logits'");
    }

    @Test
    void anEvalStageWithoutAGateSaysNone() {
        StageOutcome outcome = evalStage("{ metrics: [cosine] }");
        assertThat(outcome.gatePassed()).isTrue();
        assertThat(outcome.report().get("gate").asText()).isEqualTo("none");
        assertThat(outcome.report().get("gate_checks")).isEmpty();
    }

    private StageOutcome evalStage(String params) {
        StageSpec spec = RecipeParser.parse("stages:\n  - eval: " + params + "\n", "test.yaml").stages().get(0);
        Path work = dir.resolve("work-" + Math.abs(params.hashCode()));
        try {
            Files.createDirectories(work);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return Stages.forType("eval").run(new StageContext(spec, linear("sqrt", true), linear("plain", false), List.of(data()),
                null, work, 1, null));
    }
}
