package io.modelpress.orchestrator;

import io.micrometer.core.instrument.MeterRegistry;
import io.modelpress.core.ErrorCode;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.RunState.State;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.testing.DevStackResource;
import io.modelpress.pipeline.worker.StageWorker;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/**
 * Workers that go silent: an attempt whose worker sends no event for stall-after (2 s in this profile) is shown
 * STALLED, recorded as given up, and requested again as the next attempt; a worker that keeps sending heartbeats is
 * left alone however long it takes; a stage that stalls on every attempt fails the run.
 */
@QuarkusTest
@TestProfile(OperationsProfile.class)
@WithTestResource(DevStackResource.class)
class StageStallTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @Inject
    RunStore runs;

    @Inject
    MeterRegistry registry;

    @TestHTTPResource("/api/runs")
    URI runsUri;

    private final Harness harness = Harness.shared();
    private final TestWorker worker = harness.worker;

    private String submit(String recipe) {
        String folder = "uploads/" + Harness.uniqueName("stall") + "/";
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        return given().contentType("application/json")
                .body(java.util.Map.of("model", folder + "model.onnx", "recipe", recipe))
                .post("/api/runs").then().statusCode(201).extract().path("run_id");
    }

    private double stalls(String stage) {
        return registry.get(RunMetrics.STAGE_STALLS).tags("stage", stage).counter().count();
    }

    private double stalledNow(String stage) {
        return registry.get(RunMetrics.STAGES_STALLED).tags("stage", stage).gauge().value();
    }

    /**
     * Runs left RUNNING by test classes that ran before in this JVM (read back from the runs topic at start-up) stall
     * once, within a stall-after of the start; waiting for that keeps the counts below this class's own.
     */
    @BeforeEach
    void leftoverRunsHaveStalled() {
        await().atMost(WAIT).until(() -> runs.all().stream().filter(r -> !r.state().terminal())
                .flatMap(r -> r.stages().stream()).noneMatch(s -> s.status() == StageStatusValue.RUNNING));
    }

    private double ignoredAsStale() {
        var found = registry.find(RunMetrics.IGNORED_RESULTS).tags("reason", "stale").counter();
        return found == null ? 0 : found.count();
    }

    private static String recordKey(StageRequest request) {
        return request.outputPrefix() + StageWorker.STAGE_JSON;
    }

    @Test
    void aSilentWorkersAttemptIsShownStalledAndRequestedAgainForAnotherWorker() throws Exception {
        String runId = submit(Harness.QUANTIZE_EVAL);
        BlockingQueue<String> events = RunApiTest.follow(runsUri + "/" + runId + "/events");
        double stallsBefore = stalls("quantize");
        double stalledBefore = stalledNow("quantize");
        StageRequest first = worker.next(runId);
        worker.progress(first, 0.3, "quantizing");
        await().atMost(WAIT).until(() -> runs.get(runId).orElseThrow().stages().get(0).status() == StageStatusValue.RUNNING);

        // the worker dies: no more events for attempt 1
        StageRequest second = worker.next(runId);

        assertThat(second.stageIndex()).isZero();
        assertThat(second.attempt()).isEqualTo(2);
        assertThat(second.input()).isEqualTo(first.input());
        StageStatus stalled = runs.get(runId).orElseThrow().stages().get(0);
        assertThat(stalled.status()).isEqualTo(StageStatusValue.STALLED);
        assertThat(stalled.attempt()).isEqualTo(2);
        String why = "attempt 1 stalled: no heartbeat from worker test-worker for more than 2 s";
        assertThat(stalled.message()).isEqualTo(why + "; requested again as attempt 2 of 3 for another worker");
        assertThat(stalled.error().code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED.name());
        assertThat(stalled.error().message()).isEqualTo(why);
        given().get("/api/runs/" + runId).then().statusCode(200)
                .body("stages[0].status", equalTo("STALLED"))
                .body("stages[0].attempt", equalTo(2))
                .body("stages[0].message", containsString("attempt 1 stalled"));
        assertThat(stalls("quantize")).isEqualTo(stallsBefore + 1);
        assertThat(stalledNow("quantize")).isEqualTo(stalledBefore + 1);
        assertThat(given().get("/q/metrics").then().statusCode(200).extract().asString())
                .contains("modelpress_stage_stalls_total{stage=\"quantize\"}", "modelpress_stage_stalled{stage=\"quantize\"}");
        // attempt 1 is recorded as given up, so a redelivered copy of its request is answered without running
        StageResult givenUp = harness.store.getJson(recordKey(first), StageResult.class).orElseThrow();
        assertThat(givenUp.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(givenUp.attempt()).isEqualTo(1);
        assertThat(givenUp.workerId()).isEqualTo(RunEngine.GIVEN_UP_BY);
        assertThat(givenUp.error().message()).startsWith(why);

        // the silent worker's late result changes nothing
        double staleBefore = ignoredAsStale();
        worker.succeed(first, Harness.COMPRESSED, null);
        await().atMost(WAIT).until(() -> ignoredAsStale() > staleBefore);
        assertThat(runs.get(runId).orElseThrow().stages().get(0).status()).isEqualTo(StageStatusValue.STALLED);
        // another worker takes attempt 2 and finishes the run
        worker.progress(second, 0.5, "quantizing");
        await().atMost(WAIT).until(() -> runs.get(runId).orElseThrow().stages().get(0).status() == StageStatusValue.RUNNING);
        assertThat(stalledNow("quantize")).isEqualTo(stalledBefore);
        ArtifactRef output = worker.succeed(second, Harness.COMPRESSED, null);
        StageRequest eval = worker.next(runId);
        assertThat(eval.input()).as("the next stage gets attempt 2's model").isEqualTo(output);
        worker.succeedWithoutModel(eval, Json.MAPPER.readTree(Harness.EVAL_METRICS));
        await().atMost(WAIT).until(() -> runs.get(runId).orElseThrow().state() == State.SUCCEEDED);
        assertThat(runs.get(runId).orElseThrow().stages().get(0).attempt()).isEqualTo(2);

        // and whoever follows the run saw the stall go by
        List<RunState> seen = new ArrayList<>();
        for (RunState event = RunApiTest.next(events); event != null; event = RunApiTest.next(events)) {
            seen.add(event);
        }
        assertThat(seen).anySatisfy(s -> assertThat(s.stages().get(0).status()).isEqualTo(StageStatusValue.STALLED));
        assertThat(seen.get(seen.size() - 1).state()).isEqualTo(State.SUCCEEDED);
    }

    @Test
    void aSlowWorkerThatKeepsSendingHeartbeatsIsNeverHandedOver() throws Exception {
        String runId = submit(Harness.QUANTIZE_EVAL);
        double stallsBefore = stalls("quantize");
        StageRequest first = worker.next(runId);

        // three stall-afters of work with a heartbeat every half second (the last progress repeated)
        long end = System.nanoTime() + 3 * Duration.parse("PT" + OperationsProfile.STALL_AFTER.toUpperCase()).toNanos();
        while (System.nanoTime() < end) {
            worker.progress(first, 0.4, "quantizing");
            worker.assertNoRequest(runId, Duration.ofMillis(500));
        }

        StageStatus stage = runs.get(runId).orElseThrow().stages().get(0);
        assertThat(stage.status()).isEqualTo(StageStatusValue.RUNNING);
        assertThat(stage.attempt()).isEqualTo(1);
        assertThat(stalls("quantize")).isEqualTo(stallsBefore);
        assertThat(harness.store.exists(recordKey(first))).as("no attempt was given up").isFalse();
        worker.succeed(first, Harness.COMPRESSED, null);
        assertThat(worker.next(runId).stageType()).isEqualTo("eval");
    }

    @Test
    void aStageThatStallsOnEveryAttemptFailsTheRunAndIsDeadLettered() throws Exception {
        String runId = submit(Harness.QUANTIZE_EVAL);
        List<StageRequest> attempts = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            StageRequest request = worker.next(runId);
            attempts.add(request);
            worker.progress(request, 0.1, "quantizing");
        }
        await().atMost(WAIT).until(() -> runs.get(runId).orElseThrow().state() == State.FAILED);

        RunState failed = runs.get(runId).orElseThrow();
        assertThat(attempts).extracting(StageRequest::attempt).containsExactly(1, 2, 3);
        assertThat(failed.error()).isEqualTo("stage 0 (quantize) failed after 3 attempts: LIMIT_EXCEEDED: attempt 3 stalled: "
                + "no heartbeat from worker test-worker for more than 2 s");
        assertThat(failed.stages()).extracting(StageStatus::status).containsExactly(StageStatusValue.FAILED, StageStatusValue.SKIPPED);
        TestWorker.DeadLetter deadLetter = worker.nextDeadLetter(runId);
        assertThat(deadLetter.request()).isEqualTo(attempts.get(2));
        assertThat(deadLetter.reason()).contains("attempt 3 stalled");
        for (StageRequest attempt : attempts) {
            assertThat(harness.store.getJson(recordKey(attempt), StageResult.class)).as(recordKey(attempt))
                    .hasValueSatisfying(r -> assertThat(r.workerId()).isEqualTo(RunEngine.GIVEN_UP_BY));
        }
    }
}
