package io.modelpress.orchestrator;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class QualityTest {
    static final String QUANTIZE_EVAL_YAML = "name: r\nstages:\n  - quantize: { mode: dynamic }\n  - eval: {}\n";

    /** A run whose quantize and eval stages succeeded, the eval stage reporting these metrics. */
    static RunState runWithEval(String evalMetricsJson) {
        return run(QUANTIZE_EVAL_YAML, evalMetricsJson);
    }

    static RunState run(String recipeYaml, String evalMetricsJson) {
        JsonNode metrics = Json.read(evalMetricsJson.getBytes(StandardCharsets.UTF_8), JsonNode.class);
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        ArtifactRef input = new ArtifactRef("b", "runs/r/input/model.onnx", "aa", 1000);
        ArtifactRef quantized = new ArtifactRef("b", "runs/r/01-quantize-a1/model.onnx", "bb", 250);
        return new RunState("run-0000000000000001", "m", "api", RunState.State.RUNNING, "r", recipeYaml, "api", input, List.of(),
                null, List.of(
                new StageStatus(0, "quantize", StageStatusValue.SUCCEEDED, 1, 1, null, quantized, null, null,
                        new io.modelpress.pipeline.events.StageResult.Timings(5, 2000, 7), t, t.plusSeconds(2)),
                new StageStatus(1, "eval", StageStatusValue.SUCCEEDED, 1, 1, null, null, metrics, null, null, t.plusSeconds(2),
                        t.plusSeconds(5))),
                null, null, t, t);
    }

    @Test
    void deltasFromTheEvalStagesReport() {
        RunState run = runWithEval("""
                {"samples": 64, "accuracy": 0.90, "reference_accuracy": 0.92, "agreement": 0.97,
                 "outputs": {"logits": {"cosine": {"mean": 0.995, "min": 0.98}},
                             "pooled": {"cosine": {"mean": 0.990, "min": 0.97}}},
                 "gate_checks": [], "gate": "none"}
                """);

        var deltas = Quality.deltas(run);

        assertThat(deltas).containsOnlyKeys("accuracy", "agreement", "cosine");
        assertThat(deltas.get("accuracy")).isCloseTo(-0.02, within(1e-12));
        assertThat(deltas.get("agreement")).isCloseTo(-0.03, within(1e-12));
        assertThat(deltas.get("cosine")).isCloseTo(-0.01, within(1e-12));
    }

    @Test
    void noMeasurementNoDeltas() {
        assertThat(Quality.deltas(runWithEval("{\"note\": \"skipped\"}"))).isEmpty();
    }

    @Test
    void aNaNCosineIsANaNDeltaNotNoLoss() {
        RunState run = runWithEval("""
                {"outputs": {"logits": {"cosine": {"mean": null, "min": null}}, "pooled": {"cosine": {"mean": 0.99, "min": 0.97}}},
                 "gate_checks": [], "gate": "none"}
                """);
        assertThat(Quality.deltas(run).get("cosine")).isNaN();
    }
}
