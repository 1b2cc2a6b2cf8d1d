package io.modelpress.orchestrator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The run report's summary: latency verdicts said plainly, NaN shown as NaN, and "none" where no gate was set. */
class ReportsTest {
    static final ArtifactRef OUTPUT = new ArtifactRef("b", "outgoing/m/run/model.onnx", "cc", 400);

    @Test
    void aSlowerOutputIsSaidInTheSummaryAndAMissingGateIsNone() {
        ObjectNode report = Reports.json(QualityTest.runWithEval("""
                {"samples": 256, "outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}},
                 "latency_ms": {"batch_1": {"p50": 3.1}}, "reference_latency_ms": {"batch_1": {"p50": 2.0}},
                 "latency_vs_reference": {"batch_1": {"ratio": 1.57, "ratio_min": 1.49, "ratio_max": 1.63, "pairs": 12,
                   "verdict": "slower", "text": "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)"}},
                 "gate_checks": [], "gate": "none"}
                """), OUTPUT, Instant.parse("2026-01-01T00:01:00Z"));

        assertThat(report.path("latency_vs_input").path("batch_1").path("verdict").asText()).isEqualTo("slower");
        assertThat(report.path("latency_vs_input").path("batch_1").path("ratio").asDouble()).isEqualTo(1.57);
        JsonNode gate = report.path("gates").get(0);
        assertThat(gate.path("gate").asText()).isEqualTo("none");
        assertThat(gate.has("passed")).as("no gate neither passed nor failed").isFalse();
        assertThat(Reports.html(report)).contains("<th>latency</th><td>1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)</td>")
                .contains("none (the recipe sets no quality gate)");
    }

    @Test
    void aGatedEvaluationPassesAndAnOldReportWithoutChecksIsNone() {
        ObjectNode gated = Reports.json(QualityTest.runWithEval("""
                {"outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}},
                 "gate_checks": [{"name": "min_cosine", "limit": 0.99, "value": 0.996, "passed": true}], "gate": "passed"}
                """), OUTPUT, Instant.parse("2026-01-01T00:01:00Z"));
        assertThat(gated.path("gates").get(0).path("gate").asText()).isEqualTo("passed");
        assertThat(gated.path("gates").get(0).path("passed").asBoolean()).isTrue();

        ObjectNode old = Reports.json(QualityTest.runWithEval("""
                {"outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}}, "gate_checks": [], "gate": "passed"}
                """), OUTPUT, Instant.parse("2026-01-01T00:01:00Z"));
        assertThat(old.path("gates").get(0).path("gate").asText()).isEqualTo("none");
    }

    @Test
    void aNaNCosineIsNullInJsonAndNaNForPeople() {
        ObjectNode report = Reports.json(QualityTest.runWithEval("""
                {"outputs": {"y": {"cosine": {"mean": null, "min": null}}, "z": {"cosine": {"mean": 0.999, "min": 0.99}}},
                 "non_finite_values": {"y": 24}, "gate_checks": [], "gate": "none"}
                """), OUTPUT, Instant.parse("2026-01-01T00:01:00Z"));

        assertThat(report.path("quality_delta").has("cosine")).as("a NaN cosine must not disappear").isTrue();
        assertThat(report.path("quality_delta").path("cosine").isNull()).isTrue();
        assertThat(new String(Json.write(report), java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("NaN");
        assertThat(Reports.html(report)).contains("quality delta: cosine</th><td>NaN").doesNotContain("+0.00000");
    }
}
