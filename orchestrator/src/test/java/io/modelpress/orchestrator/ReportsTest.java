package io.modelpress.orchestrator;

import io.modelpress.core.report.ReportHtml;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The orchestrator's run state mapped into core's run report. */
class ReportsTest {
    static final ArtifactRef OUTPUT = new ArtifactRef("b", "outgoing/m/run/model.onnx", "cc", 400);
    static final Instant FINISHED = Instant.parse("2026-01-01T00:01:00Z");

    private static final String SLOWER_UNGATED = """
            {"samples": 256, "outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}},
             "latency_ms": {"batch_1": {"p50": 3.1}}, "reference_latency_ms": {"batch_1": {"p50": 2.0}},
             "latency_vs_reference": {"batch_1": {"ratio": 1.57, "ratio_min": 1.49, "ratio_max": 1.63, "pairs": 12,
               "verdict": "slower", "text": "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)"}},
             "gate_checks": [], "gate": "none"}
            """;

    @Test
    void theRunsStagesBecomeTheReportsStagesAndItsSummary() {
        RunState run = QualityTest.runWithEval(SLOWER_UNGATED);
        RunReport report = Reports.report(run, OUTPUT, FINISHED);

        assertThat(report.run()).isEqualTo(new RunReport.Run("run-0000000000000001", "m", "api", "RUNNING", null));
        assertThat(report.recipe()).isEqualTo(new RunReport.RecipeRef("r", "api", QualityTest.QUANTIZE_EVAL_YAML));
        assertThat(report.input()).isEqualTo(new RunReport.ModelRef("s3://b/runs/r/input/model.onnx", 1000, "aa"));
        assertThat(report.output()).isEqualTo(new RunReport.ModelRef("s3://b/outgoing/m/run/model.onnx", 400, "cc"));
        assertThat(report.size().compressionRatio()).isEqualTo(2.5);
        assertThat(report.stages()).extracting(RunReport.Stage::label).containsExactly("01-quantize", "02-eval");
        assertThat(report.stages().get(0).workerMs()).isEqualTo(new RunReport.WorkerTimings(5, 2000, 7));
        assertThat(report.stages().get(0).output().location()).isEqualTo("s3://b/runs/r/01-quantize-a1/model.onnx");
        assertThat(report.stages().get(1).durationMs()).isEqualTo(3000);
        assertThat(report.stages()).noneMatch(RunReport.Stage::appended);
        assertThat(report.evaluation().latencyVsInput().batch1().verdict()).isEqualTo("slower");
        assertThat(report.evaluation().latencyVsInput().batch1().ratio()).isEqualTo(1.57);
        assertThat(report.gate()).isEqualTo(RunReport.NONE);
        assertThat(report.timings().durationMs()).isEqualTo(60_000);
        assertThat(RunReports.read(RunReports.toBytes(report), "report.json")).isEqualTo(report);
        assertThat(ReportHtml.render(report)).contains("1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)")
                .contains("none (the recipe sets no quality gate)");
    }

    @Test
    void aGatedEvaluationPassesAndAnOldStageReportWithoutChecksIsNone() {
        RunReport gated = Reports.report(QualityTest.runWithEval("""
                {"outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}},
                 "gate_checks": [{"name": "min_cosine", "limit": 0.99, "value": 0.996, "passed": true}], "gate": "passed"}
                """), OUTPUT, FINISHED);
        assertThat(gated.gate()).isEqualTo(RunReport.PASSED);
        assertThat(gated.stages().get(1).gateChecks()).containsExactly(new RunReport.GateCheck("min_cosine", 0.99, 0.996, true));

        RunReport old = Reports.report(QualityTest.runWithEval("""
                {"outputs": {"y": {"cosine": {"mean": 0.996, "min": 0.99}}}, "gate_checks": [], "gate": "passed"}
                """), OUTPUT, FINISHED);
        assertThat(old.gate()).isEqualTo(RunReport.NONE);
    }

    @Test
    void anEvaluationTheRecipeDidNotNameIsMarkedAppended() {
        RunState run = QualityTest.run("name: r\nstages:\n  - quantize: { mode: dynamic }\n", SLOWER_UNGATED);
        RunReport report = Reports.report(run, OUTPUT, FINISHED);

        assertThat(report.stages()).extracting(RunReport.Stage::appended).containsExactly(false, true);
        assertThat(report.notes()).anySatisfy(note -> assertThat(note).contains("02-eval").contains("appended"));
    }

    @Test
    void theModelsNameIsEscapedInTheHtml() {
        RunState run = QualityTest.runWithEval(SLOWER_UNGATED);
        RunState named = new RunState(run.runId(), "<b>x</b>", run.source(), run.state(), run.recipeName(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), run.stages(), run.outgoing(), run.error(),
                run.createdAt(), run.updatedAt());
        assertThat(ReportHtml.render(Reports.report(named, OUTPUT, FINISHED))).contains("&lt;b&gt;x&lt;/b&gt;").doesNotContain("<b>x");
    }
}
