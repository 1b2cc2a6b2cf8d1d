package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.StageResult;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class RunReportTest {
    private static RunState run(RunState.State state, String errorCode) {
        StageResult.Error error = errorCode == null ? null : new StageResult.Error(errorCode, "why", false);
        StageStatus stage = new StageStatus(0, "eval", error == null ? StageStatusValue.SUCCEEDED : StageStatusValue.FAILED, 1, 1, null,
                null, null, error, null, null, null);
        return new RunState("run-1", "m", "api", state, null, null, null, null, null, null, List.of(stage), null, null,
                Instant.EPOCH, Instant.EPOCH);
    }

    @Test
    void exitCodesFollowTheRunsOutcome() {
        assertThat(RunReport.exitCode(run(RunState.State.SUCCEEDED, null))).isZero();
        assertThat(RunReport.exitCode(run(RunState.State.FAILED, "GATE_FAILED"))).isEqualTo(3);
        assertThat(RunReport.exitCode(run(RunState.State.FAILED, "NOT_ONNX"))).isEqualTo(1);
        assertThat(RunReport.exitCode(run(RunState.State.CANCELLED, null))).isEqualTo(1);
    }

    @Test
    void theSummaryShowsSizeLatencyAndFidelityBeforeAndAfter() throws Exception {
        JsonNode report = Json.MAPPER.readTree("""
                {"size": {"input_bytes": 90400000, "output_bytes": 23000000, "compression_ratio": 3.93},
                 "stages": [{"type": "quantize", "duration_ms": 20000},
                            {"type": "eval", "duration_ms": 15000, "metrics": {"samples": 256,
                              "outputs": {"last_hidden_state": {"cosine": {"mean": 0.9917, "min": 0.9870}}},
                              "latency_ms": {"batch_1": {"p50": 2.6}, "batch_N": {"batch": 32, "p50": 300}},
                              "reference_latency_ms": {"batch_1": {"p50": 8.0}, "batch_N": {"batch": 32, "p50": 240}},
                              "latency_vs_reference": {
                                "batch_1": {"ratio": 0.325, "verdict": "faster", "text": "3.08x faster at batch 1 (2.90x-3.20x in 12 session pairs)"},
                                "batch_N": {"batch": 32, "ratio": 1.25, "verdict": "slower", "text": "1.25x slower at batch 32 (1.20x-1.31x in 12 session pairs)"}},
                              "gate": "passed", "gate_checks": [{"name": "min_cosine", "limit": 0.98, "value": 0.9917, "passed": true}]}}],
                 "timings": {"duration_ms": 36000}}
                """);
        StringWriter text = new StringWriter();
        RunReport.printSummary(report, new PrintWriter(text));

        assertThat(text.toString()).contains("size      90.4 MB -> 23.0 MB (3.93x smaller)")
                .contains("latency   batch 1: 8.00 ms -> 2.60 ms p50")
                .contains("latency   batch 32: 240.00 ms -> 300.00 ms p50")
                .contains("speed     3.08x faster at batch 1 (2.90x-3.20x in 12 session pairs)")
                .contains("speed     1.25x slower at batch 32 (1.20x-1.31x in 12 session pairs)")
                .contains("cosine to the original mean 0.99170, worst 0.98700")
                .contains("gate      passed (min_cosine >= 0.9800: 0.9917)")
                .contains("time      36.0 s in all (quantize 20.0 s, eval 15.0 s)");
    }

    @Test
    void noGateIsSaidAndNaNIsPrintedAsNaNWithTheWarning() throws Exception {
        JsonNode report = Json.MAPPER.readTree("""
                {"stages": [{"type": "eval", "duration_ms": 1000, "metrics": {"samples": 40,
                   "outputs": {"logits": {"cosine": {"mean": null, "min": null}}},
                   "latency_ms": {"batch_1": {"p50": 2.0}}, "reference_latency_ms": {"batch_1": {"p50": 2.0}},
                   "latency_vs_reference": {"batch_1": {"ratio": 1.0, "verdict": "no measurable difference",
                     "text": "no measurable difference at batch 1 (time ratio 1.00, 0.97-1.03 in 12 session pairs)"}},
                   "notes": ["warning: the model's output 'logits' holds 24 NaN or infinite values: its cosine, MSE and KL are NaN, and a gate on them fails"],
                   "gate": "none", "gate_checks": []}}]}
                """);
        StringWriter text = new StringWriter();
        RunReport.printSummary(report, new PrintWriter(text));

        assertThat(text.toString()).contains("cosine to the original mean NaN, worst NaN")
                .doesNotContain("0.00000")
                .contains("warning: the model's output 'logits' holds 24 NaN or infinite values")
                .contains("speed     no measurable difference at batch 1")
                .contains("gate      none (the recipe sets no quality gate)")
                .doesNotContain("passed");
    }
}
