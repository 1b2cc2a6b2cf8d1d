package io.modelpress.orchestrator;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.tune.Candidates.Candidate;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.RunState.State;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.testing.DevStackResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Accuracy-aware tuning in the pipeline: a run whose candidate misses its gate requests the next candidate's stages
 * with that candidate's settings (workers played by {@link TestWorker} over the real broker, outputs in the real S3
 * store), and ends with the chosen candidate published and every candidate in report.json.
 */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class RunTuningTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static final String PRUNE_EVAL = """
            name: tuned-prune
            stages:
              - prune: { method: magnitude, ratio: 0.9 }
              - eval: { metrics: [cosine, agreement], gate: { min_cosine: 0.99 } }
            """;

    @Inject
    RunStore runs;

    private final Harness harness = Harness.shared();
    private final TestWorker worker = harness.worker;

    private String drop(String name, String recipe) {
        harness.put("incoming/" + name + "/recipe.yaml", recipe);
        harness.put("incoming/" + name + "/model.onnx", Harness.ORIGINAL);
        String key = "incoming/" + name + "/model.onnx";
        return await().atMost(WAIT).until(() -> runs.all().stream().filter(r -> key.equals(r.source()))
                .map(RunState::runId).findFirst(), Optional::isPresent).orElseThrow();
    }

    private RunState awaitState(String runId, State state) {
        await().atMost(WAIT).until(() -> runs.get(runId).map(r -> r.state() == state).orElse(false));
        return runs.get(runId).orElseThrow();
    }

    /** An eval stage's report with a measured cosine of {@code cosine} against the gate's 0.99. */
    private static JsonNode evalReport(String cosine, boolean passed) throws Exception {
        String json = Harness.EVAL_METRICS.replace("0.996", cosine);
        if (!passed) {
            json = json.replace("\"passed\": true", "\"passed\": false").replace("\"gate\": \"passed\"", "\"gate\": \"failed\"");
        }
        return Json.MAPPER.readTree(json);
    }

    private void gateFails(StageRequest eval, String cosine) throws Exception {
        assertThat(eval.stageType()).isEqualTo("eval");
        worker.fail(eval, ErrorCode.GATE_FAILED, "min_cosine: " + cosine + " is below 0.99", false, evalReport(cosine, false));
    }

    private static List<Candidate> candidates(String recipe) {
        return RunEngine.candidatesOf(RunEngine.plan(recipe, "test recipe"));
    }

    /** A candidate's settings of a stage as JSON, the way a request carries them (keys without a value left out). */
    private static String params(Candidate candidate, int stage) {
        return json(candidate.stages().get(stage).params());
    }

    private static String json(Map<String, Object> params) {
        Map<String, Object> sorted = new TreeMap<>(params);
        sorted.values().removeIf(Objects::isNull);
        return new String(Json.write(sorted), java.nio.charset.StandardCharsets.UTF_8);
    }

    private RunReport report(RunState run) {
        return RunReports.read(harness.store.getJson(run.outgoing() + "report.json", JsonNode.class).orElseThrow(), "report.json");
    }

    @Test
    void backoffRequestsTheNextCandidatesStagesAndPublishesTheFirstThatPasses() throws Exception {
        String recipe = PRUNE_EVAL + "tuning: { on_gate_failure: tune, strategy: backoff, max_attempts: 4 }\n";
        String runId = drop(Harness.uniqueName("tune-backoff"), recipe);

        StageRequest prune1 = worker.next(runId);
        assertThat(prune1.params()).containsEntry("ratio", 0.9);
        ArtifactRef out1 = worker.succeed(prune1, Harness.COMPRESSED_LARGER, null);
        StageRequest eval1 = worker.next(runId);
        gateFails(eval1, "0.95");

        // candidate 2: the pruning again, gentler, as a normal stage request with attempt numbers going on
        StageRequest prune2 = worker.next(runId);
        assertThat(prune2.stageIndex()).isZero();
        assertThat(prune2.stageType()).isEqualTo("prune");
        assertThat(prune2.params()).containsEntry("ratio", 0.675);
        assertThat(json(prune2.params())).isEqualTo(params(candidates(recipe).get(1), 0));
        assertThat(prune2.attempt()).isEqualTo(2);
        assertThat(prune2.input()).isEqualTo(prune1.input());
        assertThat(prune2.outputPrefix()).isNotEqualTo(prune1.outputPrefix());
        RunState tuning = runs.get(runId).orElseThrow();
        assertThat(tuning.state()).isEqualTo(State.RUNNING);
        assertThat(tuning.tuning().candidate()).isEqualTo(2);
        assertThat(tuning.tuning().tried()).extracting(RunState.Candidate::number).containsExactly(1);
        assertThat(tuning.tuning().tried().get(0).stages().get(1).error().code()).isEqualTo("GATE_FAILED");
        assertThat(tuning.stages().get(0).message()).startsWith("tuning: candidate 2 of 4 (01-prune: ratio 0.9 -> 0.675)");

        ArtifactRef out2 = worker.succeed(prune2, Harness.COMPRESSED, null);
        StageRequest eval2 = worker.next(runId);
        assertThat(eval2.attempt()).isEqualTo(2);
        assertThat(eval2.input()).as("candidate 2's eval judges candidate 2's model").isEqualTo(out2);
        assertThat(eval2.params()).isEqualTo(eval1.params());

        // a late duplicate of candidate 1's eval result is stale, not taken for candidate 2's
        gateFails(eval1, "0.95");
        worker.succeedWithoutModel(eval2, evalReport("0.995", true));
        RunState done = awaitState(runId, State.SUCCEEDED);
        worker.assertNoRequest(runId, Duration.ofSeconds(2));

        assertThat(out1.key()).isNotEqualTo(out2.key());
        assertThat(harness.store.exists(out1.key())).as("candidate 1's model is kept").isTrue();
        assertThat(done.error()).isNull();
        assertThat(done.tuning().stoppedBy()).isEqualTo(RunReport.Tuning.PASSED_STOP);
        assertThat(done.stages()).extracting(RunState.StageStatus::attempt).containsExactly(2, 2);
        assertThat(harness.store.stat(done.outgoing() + "model.onnx").orElseThrow().sha256()).isEqualTo(out2.sha256());

        RunReport report = report(done);
        assertThat(report.run().state()).isEqualTo("SUCCEEDED");
        RunReport.Tuning section = report.tuning();
        assertThat(section.outcome()).isEqualTo(RunReport.Tuning.GOAL_MET);
        assertThat(section.strategy()).isEqualTo("backoff");
        assertThat(section.maxAttempts()).isEqualTo(4);
        assertThat(section.chosen()).isEqualTo(2);
        assertThat(section.stoppedBy()).isEqualTo(RunReport.Tuning.PASSED_STOP);
        assertThat(section.candidates()).extracting(RunReport.Candidate::gate).containsExactly(RunReport.FAILED, RunReport.PASSED);
        assertThat(section.candidates()).extracting(RunReport.Candidate::changes)
                .containsExactly(List.of(), List.of("01-prune: ratio 0.9 -> 0.675"));
        assertThat(section.candidates()).extracting(c -> c.output().location()).containsExactly(
                "s3://" + harness.store.bucket() + "/" + out1.key(), "s3://" + harness.store.bucket() + "/" + out2.key());
        assertThat(section.candidates().get(0).shortfall()).isGreaterThan(0);
        assertThat(report.gate()).isEqualTo(RunReport.PASSED);
        assertThat(report.output().sha256()).isEqualTo(out2.sha256());
        assertThat(report.stages().get(0).output().location()).endsWith(out2.key());
        assertThat(report.notes()).anyMatch(n -> n.startsWith("tuning (backoff): goal met after 2 candidates"));
    }

    @Test
    void whenNoCandidatePassesTheRunFailsGoalNotMetAndPublishesTheClosest() throws Exception {
        String recipe = PRUNE_EVAL + "tuning: { on_gate_failure: tune, strategy: backoff, max_attempts: 3 }\n";
        String name = Harness.uniqueName("tune-unmet");
        String runId = drop(name, recipe);
        List<ArtifactRef> outputs = new ArrayList<>();
        String[] cosines = {"0.90", "0.97", "0.95"}; // candidate 2 comes closest to 0.99
        for (int n = 1; n <= 3; n++) {
            StageRequest prune = worker.next(runId);
            assertThat(prune.attempt()).isEqualTo(n);
            assertThat(json(prune.params())).isEqualTo(params(candidates(recipe).get(n - 1), 0));
            outputs.add(worker.succeed(prune, n == 2 ? Harness.COMPRESSED : Harness.COMPRESSED_LARGER, null));
            gateFails(worker.next(runId), cosines[n - 1]);
        }
        RunState failed = awaitState(runId, State.FAILED);
        worker.assertNoRequest(runId, Duration.ofSeconds(2));

        assertThat(outputs).extracting(ArtifactRef::key).doesNotHaveDuplicates();
        assertThat(failed.error()).startsWith("goal not met: none of the 3 candidates passed its gate (every candidate tried); "
                + "the output is candidate 2, the closest: stage 1 (eval) failed: GATE_FAILED: min_cosine: 0.97 is below 0.99");
        assertThat(failed.outgoing()).isEqualTo("outgoing/" + name + "/" + runId + "/");
        assertThat(failed.stages().get(0).output()).isEqualTo(outputs.get(1));
        assertThat(failed.stages().get(1).status()).isEqualTo(StageStatusValue.FAILED);
        // the best is published, and nothing of the run is deleted
        assertThat(harness.store.stat(failed.outgoing() + "model.onnx").orElseThrow().sha256()).isEqualTo(outputs.get(1).sha256());
        assertThat(outputs).allMatch(o -> harness.store.exists(o.key()));

        RunReport report = report(failed);
        assertThat(report.run().state()).isEqualTo("FAILED");
        assertThat(report.run().error()).isEqualTo(failed.error());
        assertThat(report.gate()).isEqualTo(RunReport.FAILED);
        RunReport.Tuning section = report.tuning();
        assertThat(section.outcome()).isEqualTo(RunReport.Tuning.GOAL_NOT_MET);
        assertThat(section.stoppedBy()).isEqualTo(RunReport.Tuning.ALL_TRIED);
        assertThat(section.chosen()).isEqualTo(2);
        assertThat(section.candidates()).hasSize(3).allMatch(c -> c.gate().equals(RunReport.FAILED));
        assertThat(section.candidates()).extracting(c -> c.changes().size()).containsExactly(0, 1, 1);
        assertThat(section.candidates().get(1).chosen()).isTrue();
        assertThat(harness.store.exists(failed.outgoing() + "report.html")).isTrue();
    }

    @Test
    void searchRunsEveryCandidateReusesSharedStagesAndChoosesTheSmallestPassing() throws Exception {
        String recipe = """
                name: tuned-search
                stages:
                  - prune: { method: magnitude, ratio: 0.9 }
                  - quantize: { mode: dynamic }
                  - eval: { metrics: [cosine], gate: { min_cosine: 0.99 } }
                tuning: { on_gate_failure: tune, strategy: search, max_attempts: 3 }
                """;
        List<Candidate> candidates = candidates(recipe);
        assertThat(candidates).hasSize(3);
        // the third candidate changes only the quantization: it starts from candidate 1's pruned model
        assertThat(candidates.get(2).firstDifference(candidates.get(0))).isEqualTo(1);
        String runId = drop(Harness.uniqueName("tune-search"), recipe);

        ArtifactRef pruned1 = worker.succeed(worker.next(runId), Harness.COMPRESSED_LARGER, null);
        worker.succeed(worker.next(runId), Harness.COMPRESSED, null);
        gateFails(worker.next(runId), "0.95");

        StageRequest prune2 = worker.next(runId);
        assertThat(json(prune2.params())).isEqualTo(params(candidates.get(1), 0));
        worker.succeed(prune2, Harness.COMPRESSED_LARGER, null);
        StageRequest quantize2 = worker.next(runId);
        ArtifactRef quantized2 = worker.succeed(quantize2, Harness.COMPRESSED, null);
        worker.succeedWithoutModel(worker.next(runId), evalReport("0.995", true));

        // search does not stop at a pass; candidate 3 runs from its first changed stage
        StageRequest quantize3 = worker.next(runId);
        assertThat(quantize3.stageIndex()).isEqualTo(1);
        assertThat(quantize3.attempt()).isEqualTo(3);
        assertThat(quantize3.input()).isEqualTo(pruned1);
        assertThat(json(quantize3.params())).isEqualTo(params(candidates.get(2), 1)).isNotEqualTo(json(quantize2.params()));
        ArtifactRef quantized3 = worker.succeed(quantize3, Harness.COMPRESSED_SMALLER, null);
        StageRequest eval3 = worker.next(runId);
        assertThat(eval3.input()).isEqualTo(quantized3);
        worker.succeedWithoutModel(eval3, evalReport("0.993", true));

        RunState done = awaitState(runId, State.SUCCEEDED);
        assertThat(harness.store.stat(done.outgoing() + "model.onnx").orElseThrow().sha256()).isEqualTo(quantized3.sha256());
        RunReport.Tuning section = report(done).tuning();
        assertThat(section.stoppedBy()).isEqualTo(RunReport.Tuning.ALL_TRIED);
        assertThat(section.outcome()).isEqualTo(RunReport.Tuning.GOAL_MET);
        assertThat(section.chosen()).isEqualTo(3);
        assertThat(section.candidates()).extracting(RunReport.Candidate::reusedStages).containsExactly(0, 0, 1);
        assertThat(section.candidates().get(1).output().location()).endsWith(quantized2.key());
        assertThat(section.candidates().get(2).stages().get(0).output().location()).endsWith(pruned1.key());
    }
}
