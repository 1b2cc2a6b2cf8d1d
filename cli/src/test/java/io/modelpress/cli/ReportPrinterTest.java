package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReport.ModelRef;
import io.modelpress.core.report.RunReport.Stage;
import io.modelpress.core.report.RunReports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ReportPrinterTest {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static final String EVAL = """
            {"samples": 256,
             "outputs": {"last_hidden_state": {"cosine": {"mean": 0.9917, "min": 0.9870}}},
             "latency_ms": {"batch_1": {"p50": 2.6}, "batch_N": {"batch": 32, "p50": 300}},
             "reference_latency_ms": {"batch_1": {"p50": 8.0}, "batch_N": {"batch": 32, "p50": 240}},
             "latency_vs_reference": {
               "batch_1": {"ratio": 0.325, "verdict": "faster", "text": "3.08x faster at batch 1 (2.90x-3.20x in 12 session pairs)"},
               "batch_N": {"batch": 32, "ratio": 1.25, "verdict": "slower", "text": "1.25x slower at batch 32 (1.20x-1.31x in 12 session pairs)"}},
             "gate": "passed", "gate_checks": [{"name": "min_cosine", "limit": 0.98, "value": 0.9917, "passed": true}]}
            """;
    private static final String NAN_UNGATED = """
            {"samples": 40, "outputs": {"logits": {"cosine": {"mean": null, "min": null}}},
             "latency_ms": {"batch_1": {"p50": 2.0}}, "reference_latency_ms": {"batch_1": {"p50": 2.0}},
             "latency_vs_reference": {"batch_1": {"ratio": 1.0, "verdict": "no measurable difference",
               "text": "no measurable difference at batch 1 (time ratio 1.00, 0.97-1.03 in 12 session pairs)"}},
             "non_finite_values": {"logits": 24},
             "notes": ["warning: the model's output 'logits' holds 24 NaN or infinite values: its cosine, MSE and KL are NaN, and a gate on them fails"],
             "gate": "none", "gate_checks": []}
            """;

    @TempDir
    Path dir;

    private static JsonNode tree(String json) {
        try {
            return new ObjectMapper().readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A run of quantize + eval, as the in-process compressor records it, or as the pipeline does (S3 refs, worker timings). */
    private static RunReport report(boolean pipeline, String eval) {
        String in = pipeline ? "s3://b/runs/run-1/input/model.onnx" : "/models/minilm.onnx";
        String out = pipeline ? "s3://b/outgoing/minilm/run-1/model.onnx" : "/out/model.onnx";
        RunReport.WorkerTimings worker = pipeline ? new RunReport.WorkerTimings(300, 19_000, 700) : null;
        List<Stage> stages = List.of(
                Stage.of(0, "quantize", false, "SUCCEEDED", pipeline ? 2 : 1, T0, T0.plusSeconds(20), worker,
                        pipeline ? new ModelRef("s3://b/runs/run-1/01-quantize-a2/model.onnx", 23_000_000, "bb") : null, null,
                        tree("{\"mode\": \"dynamic\", \"quantized_nodes\": 36}")),
                Stage.of(1, "eval", false, "SUCCEEDED", 1, T0.plusSeconds(20), T0.plusSeconds(35), worker, null, null, tree(eval)));
        return RunReport.assemble(new RunReport.Run(pipeline ? "run-1" : RunReport.LOCAL_RUN, "minilm", pipeline ? "api" : "cli",
                        "SUCCEEDED", null), new RunReport.RecipeRef("int8-dynamic", "built-in:int8-dynamic", "name: int8-dynamic\n"),
                new ModelRef(in, 90_400_000, "aa"), new ModelRef(out, 23_000_000, "bb"), stages, T0, T0.plusSeconds(36));
    }

    private static String print(RunReport report) {
        StringWriter text = new StringWriter();
        ReportPrinter.print(report, new PrintWriter(text));
        return text.toString();
    }

    private static List<String> labels(String printed) {
        return Arrays.stream(printed.split("\n")).map(line -> line.substring(0, 10).strip()).toList();
    }

    @Test
    void theReportShowsSizeLatencyAndFidelityBeforeAndAfter() {
        assertThat(print(report(false, EVAL))).contains("recipe    int8-dynamic (built-in:int8-dynamic)\n")
                .contains("input     /models/minilm.onnx (90.4 MB)\n")
                .contains("size      90.4 MB -> 23.0 MB (3.93x smaller)\n")
                .contains("latency   batch 1: 8.00 ms -> 2.60 ms p50\n")
                .contains("latency   batch 32: 240.00 ms -> 300.00 ms p50\n")
                .contains("speed     3.08x faster at batch 1 (2.90x-3.20x in 12 session pairs)\n")
                .contains("speed     1.25x slower at batch 32 (1.20x-1.31x in 12 session pairs)\n")
                .contains("fidelity  output last_hidden_state: cosine to the original mean 0.99170, worst 0.98700")
                .contains("gate      passed (min_cosine >= 0.9800: 0.9917)\n")
                .contains("time      36.0 s in all (01-quantize 20.0 s, 02-eval 15.0 s)\n");
    }

    @Test
    void noGateIsSaidAndNaNIsPrintedAsNaNWithTheWarning() {
        assertThat(print(report(false, NAN_UNGATED))).contains("cosine to the original mean NaN, worst NaN")
                .doesNotContain("0.00000")
                .contains("note      warning: the model's output 'logits' holds 24 NaN or infinite values")
                .contains("speed     no measurable difference at batch 1")
                .contains("gate      none (the recipe sets no quality gate)")
                .doesNotContain("passed");
    }

    @Test
    void aFailedGateSaysWhichStageAndWhy() {
        RunReport failed = RunReport.assemble(new RunReport.Run("local", "m", "cli", "FAILED", "stage 1 (eval) failed"),
                new RunReport.RecipeRef("strict", "file", ""), new ModelRef("/m.onnx", 100, "a"), new ModelRef("/o.onnx", 100, "b"),
                List.of(Stage.of(0, "eval", false, "FAILED", 1, T0, T0, null, null,
                        new RunReport.StageError("GATE_FAILED", "min_compression_ratio = 1.0000, below the limit 2.0000"),
                        tree("{\"gate\": \"failed\", \"gate_checks\": [{\"name\": \"min_compression_ratio\", \"limit\": 2, \"value\": 1, \"passed\": false}]}"))),
                T0, T0);
        assertThat(print(failed)).contains("gate      FAILED: 01-eval: min_compression_ratio = 1.0000, below the limit 2.0000\n");
    }

    @Test
    void anInProcessAndAPipelineRunOfTheSameRecipePrintTheSameLines() {
        String local = print(report(false, EVAL));
        String pipeline = print(report(true, EVAL));

        assertThat(labels(pipeline)).isEqualTo(labels(local))
                .containsSubsequence("recipe", "input", "output", "size", "fidelity", "latency", "latency", "speed", "speed", "gate", "time");
        assertThat(pipeline).contains("input     s3://b/runs/run-1/input/model.onnx (90.4 MB)\n");
    }

    @Test
    void aFetchedReportIsReadWithTheReportReaderAndAnUnreadableOneIsNamedNotFatal() throws Exception {
        Path current = Files.write(dir.resolve("report.json"), RunReports.toBytes(report(true, EVAL)));
        StringWriter text = new StringWriter();
        ReportPrinter.printFile(current, new PrintWriter(text));
        assertThat(text.toString()).isEqualTo(print(report(true, EVAL)));

        Path old = Files.writeString(dir.resolve("old.json"), "{\"run_id\": \"run-1\", \"state\": \"SUCCEEDED\", \"size\": {}}");
        StringWriter oldText = new StringWriter();
        ReportPrinter.printFile(old, new PrintWriter(oldText));
        assertThat(oldText.toString()).startsWith("report    not summarised: ").contains("old.json").contains("schema_version");
    }
}
