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
                              "gate": "passed", "gate_checks": [{"name": "min_cosine", "limit": 0.98, "value": 0.9917, "passed": true}]}}],
                 "timings": {"duration_ms": 36000}}
                """);
        StringWriter text = new StringWriter();
        RunReport.printSummary(report, new PrintWriter(text));

        assertThat(text.toString()).contains("size      90.4 MB -> 23.0 MB (3.93x smaller)")
                .contains("latency   batch 1: 8.00 ms -> 2.60 ms p50 (3.08x faster)")
                .contains("latency   batch 32: 240.00 ms -> 300.00 ms p50 (1.25x slower)")
                .contains("cosine to the original mean 0.99170, worst 0.98700")
                .contains("gate      passed (min_cosine >= 0.9800: 0.9917)")
                .contains("time      36.0 s in all (quantize 20.0 s, eval 15.0 s)");
    }
}
