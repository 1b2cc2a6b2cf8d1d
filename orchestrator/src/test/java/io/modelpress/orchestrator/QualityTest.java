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
    static RunState runWithEval(String evalMetricsJson) {
        JsonNode metrics = Json.read(evalMetricsJson.getBytes(StandardCharsets.UTF_8), JsonNode.class);
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        ArtifactRef input = new ArtifactRef("b", "runs/r/input/model.onnx", "aa", 1000);
        ArtifactRef quantized = new ArtifactRef("b", "runs/r/00-quantize-a1/model.onnx", "bb", 250);
        return new RunState("run-0000000000000001", "m", "api", RunState.State.RUNNING, "r", "", "api", input, List.of(),
                null, List.of(
                new StageStatus(0, "quantize", StageStatusValue.SUCCEEDED, 1, 1, null, quantized, null, null, null, t, t),
                new StageStatus(1, "eval", StageStatusValue.SUCCEEDED, 1, 1, null, null, metrics, null, null, t, t)),
                null, null, t, t);
    }

    @Test
    void deltasFromAnEvaluationReport() {
        RunState run = runWithEval("""
                {"evaluation": {"model": "model.onnx", "samples": 64, "accuracy": 0.90, "reference_accuracy": 0.92,
                  "agreement": 0.97,
                  "outputs": {"logits": {"cosine": {"mean": 0.995, "min": 0.98}},
                              "pooled": {"cosine": {"mean": 0.990, "min": 0.97}}}},
                 "gate": {"passed": true}}
                """);

        var deltas = Quality.deltas(run);

        assertThat(deltas).containsOnlyKeys("accuracy", "agreement", "cosine");
        assertThat(deltas.get("accuracy")).isCloseTo(-0.02, within(1e-12));
        assertThat(deltas.get("agreement")).isCloseTo(-0.03, within(1e-12));
        assertThat(deltas.get("cosine")).isCloseTo(-0.01, within(1e-12));
    }

    @Test
    void noEvaluationNoDeltas() {
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

    @Test
    void theLatencyVerdictsOfTheLastEvaluation() {
        RunState run = runWithEval("""
                {"outputs": {"y": {"cosine": {"mean": 0.999, "min": 0.99}}},
                 "latency_vs_reference": {"batch_1": {"ratio": 0.5, "verdict": "faster", "text": "2.00x faster at batch 1"}}}
                """);
        assertThat(Quality.latency(run).path("batch_1").path("verdict").asText()).isEqualTo("faster");
        assertThat(Quality.latency(runWithEval("{\"note\": \"skipped\"}"))).isNull();
    }
}
