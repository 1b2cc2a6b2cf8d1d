package io.modelpress.core.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.report.RunReport.ModelRef;
import io.modelpress.core.report.RunReport.Stage;
import io.modelpress.core.report.RunReport.StageError;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class RunReportTest {
    private static final ObjectMapper PLAIN = new ObjectMapper();
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    @TempDir
    Path dir;

    static final Compressor.Listener SILENT = new Compressor.Listener() {
        public void stageStarted(StageSpec stage, int count) {
        }

        public void progress(StageSpec stage, double fraction, String message) {
        }

        public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
        }
    };

    private static JsonNode tree(String json) {
        try {
            return PLAIN.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A report built from stage reports as the eval stage writes them, with a NaN cosine and a failed gate. */
    static RunReport sample(String recipeName, String modelName) {
        JsonNode quantize = tree("""
                {"mode": "dynamic", "quantized_nodes": 0, "skipped_nodes": 0, "unchanged": true,
                 "notes": {"result": "nothing to quantize: the model has no MatMul; the model passes through unchanged"}}
                """);
        JsonNode eval = tree("""
                {"samples": 64, "threads": 1, "accuracy": 0.90, "reference_accuracy": 0.92, "agreement": 0.97,
                 "outputs": {"logits": {"cosine": {"mean": null, "min": null}}, "pooled": {"cosine": {"mean": 0.99, "min": 0.97}}},
                 "latency_ms": {"batch_1": {"p50": 3.1, "p95": 3.5, "mean": 3.2}, "batch_N": {"batch": 32, "p50": 40.0, "p95": 41.0, "mean": 40.5}},
                 "reference_latency_ms": {"batch_1": {"p50": 2.0, "p95": 2.2, "mean": 2.1}},
                 "latency_vs_reference": {"batch_1": {"ratio": 1.57, "ratio_min": 1.49, "ratio_max": 1.63, "pairs": 12,
                   "verdict": "slower", "text": "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)"}},
                 "non_finite_values": {"logits": 24},
                 "notes": ["warning: the model's output 'logits' holds 24 NaN or infinite values"],
                 "gate_checks": [{"name": "min_cosine", "limit": 0.98, "value": null, "passed": false}], "gate": "failed"}
                """);
        List<Stage> stages = List.of(
                Stage.of(0, "quantize", false, "SUCCEEDED", 1, T0, T0.plusSeconds(2), null, null, null, quantize),
                Stage.of(1, "eval", true, "FAILED", 1, T0.plusSeconds(2), T0.plusSeconds(5), null, null,
                        new StageError("GATE_FAILED", "min_cosine could not be measured"), eval));
        return RunReport.assemble(new RunReport.Run(RunReport.LOCAL_RUN, modelName, "cli", "FAILED", "stage 1 (eval) failed"),
                new RunReport.RecipeRef(recipeName, "file", "name: " + recipeName + "\nstages:\n  - quantize: { mode: dynamic }\n"),
                new ModelRef("/m/" + modelName + ".onnx", 1000, "aa"), new ModelRef("/out/model.onnx", 400, "bb"), stages, T0,
                T0.plusSeconds(6));
    }

    @Test
    void theSummaryIsDerivedFromTheStages() {
        RunReport report = sample("r", "m");

        assertThat(report.schemaVersion()).isEqualTo(RunReport.SCHEMA_VERSION);
        assertThat(report.size().compressionRatio()).isEqualTo(2.5);
        assertThat(report.size().savedBytes()).isEqualTo(600);
        assertThat(report.gate()).isEqualTo(RunReport.FAILED);
        assertThat(report.gateFailure()).isEqualTo("02-eval: min_cosine could not be measured");
        assertThat(report.stages().get(1).gateChecks()).singleElement().satisfies(check -> {
            assertThat(check.name()).isEqualTo("min_cosine");
            assertThat(check.value()).isNull();
            assertThat(check.passed()).isFalse();
        });
        assertThat(report.stages().get(0).gate()).isEqualTo(RunReport.NONE);
        assertThat(report.stages().get(1).durationMs()).isEqualTo(3000);
        assertThat(report.timings().stagesMs()).isEqualTo(5000);
        assertThat(report.timings().durationMs()).isEqualTo(6000);
        assertThat(report.notes()).anySatisfy(n -> assertThat(n).contains("02-eval").contains("appended"))
                .anySatisfy(n -> assertThat(n).startsWith("01-quantize left the model unchanged: nothing to quantize"));

        RunReport.Evaluation e = report.evaluation();
        assertThat(e.stage()).isEqualTo(1);
        assertThat(e.samples()).isEqualTo(64);
        assertThat(e.qualityDelta()).containsOnlyKeys("accuracy", "agreement", "cosine");
        assertThat(e.qualityDelta().get("accuracy")).isCloseTo(-0.02, within(1e-12));
        assertThat(e.qualityDelta().get("agreement")).isCloseTo(-0.03, within(1e-12));
        assertThat(e.qualityDelta().get("cosine")).as("a NaN cosine is not 'no loss': null, but present").isNull();
        assertThat(e.cosine().get("logits").mean()).isNull();
        assertThat(e.cosine().get("pooled").min()).isEqualTo(0.97);
        assertThat(e.latencyVsInput().batch1().verdict()).isEqualTo("slower");
        assertThat(e.latencyVsInput().batch1().batch()).isEqualTo(1);
        assertThat(e.latencyVsInput().batchN()).isNull();
        assertThat(e.latencyMs().batchN().batch()).isEqualTo(32);
        assertThat(e.inputLatencyMs().batchN()).isNull();
        assertThat(e.nonFiniteValues()).containsEntry("logits", 24L);
        assertThat(e.notes()).singleElement().asString().startsWith("warning:");
    }

    @Test
    void writtenAndReadBackItIsEqualAndHoldsNoNaN() {
        RunReport report = sample("r", "m");
        byte[] json = RunReports.toBytes(report);

        assertThat(RunReports.read(json, "report.json")).isEqualTo(report);
        String text = new String(json, StandardCharsets.UTF_8);
        assertThat(text).doesNotContainPattern(":\\s*\"?NaN").contains("\"schema_version\" : 1").contains("\"quality_delta\"")
                .contains("\"batch_1\"").contains("\"latency_vs_input\"");
        // every key is written, null where unknown: the shape does not depend on what happened to be measured
        assertThat(tree(text).path("stages").get(0).has("output")).isTrue();
        assertThat(tree(text).path("stages").get(0).path("output").isNull()).isTrue();
    }

    @Test
    void theReaderRefusesNewerVersionsAndDocumentsThatAreNotReports() {
        String json = RunReports.toJson(sample("r", "m"));

        assertThatThrownBy(() -> RunReports.read(json.replace("\"schema_version\" : 1", "\"schema_version\" : 99")
                .getBytes(StandardCharsets.UTF_8), "x/report.json"))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("x/report.json").hasMessageContaining("schema_version 99")
                .hasMessageContaining("update");
        assertThatThrownBy(() -> RunReports.read("{\"run_id\": \"r\", \"state\": \"SUCCEEDED\"}".getBytes(StandardCharsets.UTF_8), "old.json"))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("old.json").hasMessageContaining("no schema_version");
        assertThatThrownBy(() -> RunReports.read("[1, 2]".getBytes(StandardCharsets.UTF_8), "list.json"))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("not a JSON object");
        assertThatThrownBy(() -> RunReports.read("{\"schema_version\": 1,".getBytes(StandardCharsets.UTF_8), "cut.json"))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("cut.json").hasMessageContaining("not JSON");
        // a key a later version added is ignored
        RunReport withExtra = RunReports.read(json.replaceFirst("\\{", "{\"added_later\": 1,").getBytes(StandardCharsets.UTF_8), "r");
        assertThat(withExtra).isEqualTo(sample("r", "m"));
    }

    @Test
    void theHtmlPageEscapesUserStringsAndShowsTheJsonOnlyInACollapsedSection() {
        String html = ReportHtml.render(sample("<script>alert(1)</script>", "a&b\"<img>"));

        assertThat(html).doesNotContain("<script>").doesNotContain("<img>")
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;").contains("a&amp;b&quot;&lt;img&gt;");
        assertThat(html).as("report.json only escaped, collapsed at the end").doesNotContain("\"schema_version\"")
                .doesNotContain("{\"").doesNotContain("\"mode\"").contains("<details><summary>report.json");
        assertThat(html).contains("<th>size</th><td>1.0 KB (1,000 B)</td><td>400 B</td><td>2.50x smaller (600 B saved)</td>")
                .contains("1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)")
                .contains("<td>mean NaN, worst NaN</td><td>NaN (the output held NaN or infinite values)</td>")
                .contains("Gate: 02-eval: min_cosine could not be measured")
                .contains("<td>min_cosine</td><td>0.9800</td><td>not measured or NaN</td>")
                .contains("02-eval (appended)");
    }

    @Test
    void compressWritesTheReportThatReadsBackEqualWithAFinalEvaluationAppended() throws Exception {
        Path model = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(64, 128, 8, false, 3)).write(model);
        Path out = dir.resolve("out");
        var recipe = RecipeParser.parse("name: just-quantize\nstages:\n  - quantize: { mode: dynamic }\n", "recipe.yaml");

        Compressor.Result result = Compressor.run(new Compressor.Request(model, recipe, List.of(), null, out, 1), SILENT);

        RunReport report = RunReports.read(out.resolve("report.json"));
        assertThat(report).isEqualTo(result.report());
        assertThat(report.run().id()).isEqualTo("local");
        assertThat(report.run().name()).isEqualTo("mlp");
        assertThat(report.run().state()).isEqualTo("SUCCEEDED");
        assertThat(report.recipe().source()).isEqualTo("file");
        assertThat(report.input().location()).isEqualTo(model.toAbsolutePath().toString());
        assertThat(report.input().sha256()).hasSize(64);
        assertThat(report.output().bytes()).isEqualTo(Files.size(out.resolve("model.onnx")));
        assertThat(report.stages()).extracting(Stage::label).containsExactly("01-quantize", "02-eval");
        assertThat(report.stages().get(1).appended()).isTrue();
        assertThat(report.gate()).as("the appended evaluation sets no gate").isEqualTo(RunReport.NONE);
        assertThat(report.evaluation().stage()).isEqualTo(1);
        assertThat(report.evaluation().cosine().get("y").mean()).isGreaterThan(0.99);
        assertThat(report.evaluation().latencyVsInput().batch1().verdict()).isIn("faster", "slower", "no measurable difference");
        assertThat(report.evaluation().notes()).anySatisfy(n -> assertThat(n).contains("synthetic"));
        assertThat(report.size().compressionRatio()).isGreaterThan(2.5);
        assertThat(Files.readString(out.resolve("report.html"))).contains("<table>").doesNotContain("\"schema_version\"");
    }
}
