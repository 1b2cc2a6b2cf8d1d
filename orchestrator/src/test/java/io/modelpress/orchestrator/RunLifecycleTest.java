package io.modelpress.orchestrator;

import io.modelpress.pipeline.testing.DevStackResource;
import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.core.instrument.MeterRegistry;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.BucketEvent;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.RunState.State;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.store.StoredObject;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

/**
 * The run state machine against a real broker and a real S3 server: models dropped under incoming/ (found by the
 * bucket poller, or announced by a MinIO-style notification), stage requests answered by {@link TestWorker}.
 */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class RunLifecycleTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @Inject
    RunStore runs;

    @Inject
    RunLog runLog;

    @Inject
    MeterRegistry registry;

    private final Harness harness = Harness.shared();
    private final TestWorker worker = harness.worker;

    /** Drops files under incoming/&lt;name&gt;/, the model last (as users are told to), and returns the model's key. */
    private String drop(String name, String recipe, byte[] model) {
        String folder = "incoming/" + name + "/";
        if (recipe != null) {
            harness.put(folder + "recipe.yaml", recipe);
        }
        harness.put(folder + "model.onnx", model);
        return folder + "model.onnx";
    }

    private String awaitRunFor(String modelKey) {
        return await().atMost(WAIT).until(() -> runs.all().stream().filter(r -> modelKey.equals(r.source()))
                .map(RunState::runId).findFirst(), java.util.Optional::isPresent).orElseThrow();
    }

    private RunState awaitState(String runId, State state) {
        await().atMost(WAIT).until(() -> runs.get(runId).map(r -> r.state() == state).orElse(false));
        return runs.get(runId).orElseThrow();
    }

    private double counter(String name, String... tags) {
        var found = registry.find(name).tags(tags).counter();
        return found == null ? 0 : found.count();
    }

    @Test
    void aDropRunsItsStagesInOrderAndPublishesModelAndReport() throws Exception {
        String name = Harness.uniqueName("happy");
        String folder = "incoming/" + name + "/";
        harness.put(folder + "tokenizer.json", "{\"version\": \"1.0\"}");
        harness.put(folder + "data/calibration.npy", new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'});
        String modelKey = drop(name, Harness.QUANTIZE_EVAL, Harness.ORIGINAL);
        StoredObject dropped = harness.store.list(modelKey).get(0);

        String runId = awaitRunFor(modelKey);
        StageRequest quantize = worker.next(runId);

        RunState run = runs.get(runId).orElseThrow();
        assertThat(run.name()).isEqualTo(name);
        assertThat(run.recipeSource()).isEqualTo("sibling");
        assertThat(run.recipeName()).isEqualTo("test-int8");
        assertThat(quantize.stageIndex()).isZero();
        assertThat(quantize.attempt()).isEqualTo(1);
        assertThat(quantize.stageType()).isEqualTo("quantize");
        assertThat(quantize.params()).containsEntry("mode", "dynamic").containsKey("granularity");
        assertThat(quantize.input().key()).isEqualTo("runs/" + runId + "/input/model.onnx");
        assertThat(quantize.input().sha256()).isEqualTo(sha256(Harness.ORIGINAL));
        assertThat(quantize.input().bytes()).isEqualTo(Harness.ORIGINAL.length);
        assertThat(quantize.original()).isEqualTo(quantize.input());
        assertThat(quantize.data()).extracting(ArtifactRef::key).containsExactly("runs/" + runId + "/input/data/calibration.npy");
        assertThat(quantize.tokenizer().key()).isEqualTo("runs/" + runId + "/input/tokenizer.json");
        assertThat(quantize.deadline()).isAfter(Instant.now());

        worker.progress(quantize, 0.5, "half way");
        await().atMost(WAIT).until(() -> runs.get(runId).orElseThrow().stages().get(0).status() == StageStatusValue.RUNNING);
        assertThat(runs.get(runId).orElseThrow().stages().get(0).progress()).isEqualTo(0.5);

        ArtifactRef quantized = worker.succeed(quantize, Harness.COMPRESSED, Json.MAPPER.readTree("{\"nodes_quantized\": 2}"));
        StageRequest eval = worker.next(runId);
        assertThat(eval.stageIndex()).isEqualTo(1);
        assertThat(eval.stageType()).isEqualTo("eval");
        assertThat(eval.input()).as("eval gets the quantized model").isEqualTo(quantized);
        assertThat(eval.original()).as("and the original as reference").isEqualTo(quantize.input());
        assertThat(eval.params()).containsKey("gate");

        worker.succeedWithoutModel(eval, Json.MAPPER.readTree(Harness.EVAL_METRICS));
        RunState done = awaitState(runId, State.SUCCEEDED);

        String outgoing = "outgoing/" + name + "/" + runId + "/";
        assertThat(done.outgoing()).isEqualTo(outgoing);
        assertThat(done.error()).isNull();
        assertThat(done.stages()).extracting(RunState.StageStatus::status)
                .containsExactly(StageStatusValue.SUCCEEDED, StageStatusValue.SUCCEEDED);
        ArtifactRef published = harness.store.stat(outgoing + "model.onnx").orElseThrow();
        assertThat(published.sha256()).isEqualTo(sha256(Harness.COMPRESSED));
        assertThat(published.bytes()).isEqualTo(Harness.COMPRESSED.length);

        RunReport report = RunReports.read(harness.store.getJson(outgoing + "report.json", JsonNode.class).orElseThrow(), "report.json");
        assertThat(report.schemaVersion()).isEqualTo(RunReport.SCHEMA_VERSION);
        assertThat(report.run().id()).isEqualTo(runId);
        assertThat(report.run().state()).isEqualTo("SUCCEEDED");
        assertThat(report.input().location()).isEqualTo("s3://" + harness.store.bucket() + "/runs/" + runId + "/input/model.onnx");
        assertThat(report.output().sha256()).isEqualTo(sha256(Harness.COMPRESSED));
        assertThat(report.size().inputBytes()).isEqualTo(Harness.ORIGINAL.length);
        assertThat(report.size().outputBytes()).isEqualTo(Harness.COMPRESSED.length);
        assertThat(report.size().compressionRatio())
                .isCloseTo((double) Harness.ORIGINAL.length / Harness.COMPRESSED.length, within(1e-9));
        assertThat(report.stages()).hasSize(2);
        assertThat(report.stages().get(0).report().path("nodes_quantized").asInt()).isEqualTo(2);
        assertThat(report.stages().get(0).workerMs()).isEqualTo(new RunReport.WorkerTimings(1, 2, 3));
        assertThat(report.stages().get(0).output()).isEqualTo(Reports.ref(quantized));
        assertThat(report.stages().get(1).report().path("agreement").asDouble()).isEqualTo(0.98);
        assertThat(report.stages().get(1).appended()).isFalse();
        assertThat(report.gate()).isEqualTo(RunReport.PASSED);
        assertThat(report.stages().get(1).gateChecks().get(0).name()).isEqualTo("min_cosine");
        assertThat(report.evaluation().qualityDelta().get("cosine")).isCloseTo(-0.004, within(1e-9));
        assertThat(report.evaluation().qualityDelta().get("agreement")).isCloseTo(-0.02, within(1e-9));
        assertThat(report.recipe().yaml()).isEqualTo(Harness.QUANTIZE_EVAL);
        assertThat(report.timings().durationMs()).isNotNegative();
        assertThat(harness.store.exists(outgoing + "report.html")).isTrue();

        // the user's drop is untouched, the run's input copy is in place
        assertThat(harness.store.list(modelKey)).containsExactly(dropped);
        assertThat(harness.store.stat("runs/" + runId + "/input/model.onnx").orElseThrow().sha256()).isEqualTo(sha256(Harness.ORIGINAL));
        assertThat(harness.store.exists("runs/" + runId + "/input/recipe.yaml")).isTrue();

        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertThat(metrics).contains("modelpress_compression_ratio{run=\"" + runId + "\"}")
                .contains("modelpress_model_bytes{phase=\"input\",run=\"" + runId + "\"} " + Harness.ORIGINAL.length)
                .contains("modelpress_quality_delta{metric=\"cosine\",run=\"" + runId + "\"}")
                .containsPattern("modelpress_runs_total\\{outcome=\"succeeded\"} [1-9]");
    }

    @Test
    void theSameObjectSeenAgainStartsNoSecondRunButNewContentDoes() {
        String name = Harness.uniqueName("same object");  // a space: keys arrive URL-encoded in notifications
        String modelKey = drop(name, Harness.QUANTIZE_EVAL, Harness.ORIGINAL);
        String runId = awaitRunFor(modelKey);
        StoredObject object = harness.store.list(modelKey).get(0);
        double duplicatesBefore = counter(RunMetrics.DUPLICATE_DROPS);

        // MinIO announces the same upload, twice (at-least-once delivery)
        BucketEvent event = new BucketEvent("s3:ObjectCreated:CompleteMultipartUpload", harness.store.bucket(), modelKey,
                object.bytes(), object.etag(), null, Instant.now());
        worker.publish(Topics.BUCKET_EVENTS, event.kafkaKey(), event.toNotificationJson());
        worker.publish(Topics.BUCKET_EVENTS, event.kafkaKey(), event.toNotificationJson());

        await().atMost(WAIT).until(() -> counter(RunMetrics.DUPLICATE_DROPS) >= duplicatesBefore + 2);
        assertThat(runs.all().stream().filter(r -> modelKey.equals(r.source()))).extracting(RunState::runId).containsExactly(runId);
        assertThat(worker.next(runId).attempt()).isEqualTo(1);

        // a new upload to the same key is a new object version: a new run
        harness.put(modelKey, Harness.COMPRESSED);
        await().atMost(WAIT).until(() -> runs.all().stream().filter(r -> modelKey.equals(r.source())).count() == 2);
    }

    @Test
    void aFileThatIsNotOnnxFailsWithTheWorkersErrorAndKeepsTheInput() {
        String name = Harness.uniqueName("not-onnx");
        String modelKey = drop(name, Harness.QUANTIZE_EVAL, "this is a text file, not a model\n".getBytes(StandardCharsets.UTF_8));
        String runId = awaitRunFor(modelKey);

        StageRequest quantize = worker.next(runId);
        worker.fail(quantize, ErrorCode.NOT_ONNX, "model.onnx: is not an ONNX model (not a valid ONNX protobuf)", false);
        RunState failed = awaitState(runId, State.FAILED);

        assertThat(failed.error()).isEqualTo("stage 0 (quantize) failed: NOT_ONNX: model.onnx: is not an ONNX model (not a valid ONNX protobuf)");
        assertThat(failed.stages().get(0).status()).isEqualTo(StageStatusValue.FAILED);
        assertThat(failed.stages().get(0).error().code()).isEqualTo("NOT_ONNX");
        assertThat(failed.stages().get(1).status()).isEqualTo(StageStatusValue.SKIPPED);
        assertThat(failed.input().key()).isEqualTo("runs/" + runId + "/input/model.onnx");
        assertThat(harness.store.exists(failed.input().key())).isTrue();
        assertThat(harness.store.exists(modelKey)).isTrue();
        assertThat(harness.store.list("outgoing/" + name + "/")).isEmpty();
    }

    @Test
    void aBrokenRecipeFailsTheRunWithItsLineAndPath() throws InterruptedException {
        String name = Harness.uniqueName("broken-recipe");
        String recipe = """
                name: broken
                stages:
                  - quantize: { mode: dynamc }
                """;
        String modelKey = drop(name, recipe, Harness.ORIGINAL);
        String runId = awaitRunFor(modelKey);

        RunState failed = awaitState(runId, State.FAILED);

        assertThat(failed.error()).startsWith("BAD_RECIPE: incoming/" + name + "/recipe.yaml")
                .contains("recipe.yaml:3:").contains("stages[0].quantize.mode").contains("dynamc");
        assertThat(failed.recipeSource()).isEqualTo("sibling");
        assertThat(failed.recipeYaml()).isEqualTo(recipe);
        assertThat(failed.stages()).isEmpty();
        assertThat(harness.store.exists("runs/" + runId + "/input/model.onnx")).isTrue();
        worker.assertNoRequest(runId, Duration.ofSeconds(2));
    }

    @Test
    void aRetryableFailureIsRetriedAndTheOldAttemptsLateResultIgnored() throws Exception {
        String modelKey = drop(Harness.uniqueName("retry"), Harness.QUANTIZE_EVAL, Harness.ORIGINAL);
        String runId = awaitRunFor(modelKey);

        StageRequest first = worker.next(runId);
        worker.fail(first, ErrorCode.IO_ERROR, "s3://modelpress/x: cannot be downloaded: connection reset", true);
        StageRequest second = worker.next(runId);

        assertThat(second.stageIndex()).isZero();
        assertThat(second.attempt()).isEqualTo(2);
        assertThat(second.input()).isEqualTo(first.input());
        assertThat(second.outputPrefix()).isNotEqualTo(first.outputPrefix());
        RunState.StageStatus retrying = runs.get(runId).orElseThrow().stages().get(0);
        assertThat(retrying.status()).isEqualTo(StageStatusValue.QUEUED);
        assertThat(retrying.message()).contains("attempt 1 failed (IO_ERROR: ").contains("attempt 2 of 3");

        double staleBefore = counter(RunMetrics.IGNORED_RESULTS, "reason", "stale");
        worker.succeed(first, Harness.COMPRESSED, null); // attempt 1 turns up late after all
        await().atMost(WAIT).until(() -> counter(RunMetrics.IGNORED_RESULTS, "reason", "stale") > staleBefore);
        assertThat(runs.get(runId).orElseThrow().stages().get(0).status()).isEqualTo(StageStatusValue.QUEUED);

        ArtifactRef output = worker.succeed(second, Harness.COMPRESSED, null);
        StageRequest eval = worker.next(runId);
        assertThat(eval.input()).isEqualTo(output);
        assertThat(output.key()).contains("-a2/");
        worker.succeedWithoutModel(eval, Json.MAPPER.readTree(Harness.EVAL_METRICS));
        RunState done = awaitState(runId, State.SUCCEEDED);
        assertThat(done.stages().get(0).attempt()).isEqualTo(2);
    }

    @Test
    void aPermanentFailureFailsTheRunAtOnce() throws InterruptedException {
        String modelKey = drop(Harness.uniqueName("permanent"), Harness.QUANTIZE_EVAL, Harness.ORIGINAL);
        String runId = awaitRunFor(modelKey);

        worker.fail(worker.next(runId), ErrorCode.UNSUPPORTED_OPERATOR, "node 'attn': operator Attention is not supported", false);
        RunState failed = awaitState(runId, State.FAILED);

        assertThat(failed.error()).isEqualTo("stage 0 (quantize) failed: UNSUPPORTED_OPERATOR: node 'attn': operator Attention is not supported");
        assertThat(failed.stages().get(0).attempt()).isEqualTo(1);
        worker.assertNoRequest(runId, Duration.ofSeconds(2));
    }

    @Test
    void aFailedQualityGateFailsTheRunAndKeepsWhatWasProduced() throws Exception {
        // a recipe that does not tune (RunTuningTest has those that do): the run fails, nothing is published
        String recipe = Harness.QUANTIZE_EVAL;
        String name = Harness.uniqueName("gate");
        String runId = awaitRunFor(drop(name, recipe, Harness.ORIGINAL));
        ArtifactRef quantized = worker.succeed(worker.next(runId), Harness.COMPRESSED, null);
        StageRequest eval = worker.next(runId);

        JsonNode report = Json.MAPPER.readTree(Harness.EVAL_METRICS.replace("0.996", "0.95")
                .replace("\"passed\": true", "\"passed\": false").replace("\"gate\": \"passed\"", "\"gate\": \"failed\""));
        worker.fail(eval, ErrorCode.GATE_FAILED, "min_cosine: 0.9500 is below 0.99", false, report);
        RunState failed = awaitState(runId, State.FAILED);

        assertThat(failed.error()).isEqualTo("stage 1 (eval) failed: GATE_FAILED: min_cosine: 0.9500 is below 0.99");
        assertThat(failed.tuning()).isNull();
        assertThat(failed.outgoing()).isNull();
        assertThat(failed.stages().get(0).output()).isEqualTo(quantized);
        assertThat(failed.stages().get(1).metrics().path("gate").asText()).isEqualTo("failed");
        assertThat(harness.store.exists(quantized.key())).isTrue();
        assertThat(harness.store.list("outgoing/" + name + "/")).isEmpty();
        assertThat(registry.get(RunMetrics.QUALITY_DELTA).tags("run", runId, "metric", "cosine").gauge().value())
                .isCloseTo(-0.05, within(1e-9));
    }

    @Test
    void aStageThatTimesOutIsRetriedThenGivenUpAndDeadLettered() throws InterruptedException {
        // the test profile gives convert stages a 3 s timeout; max-attempts is 3
        String recipe = """
                name: slow
                stages:
                  - convert: { to: fp16 }
                """;
        String modelKey = drop(Harness.uniqueName("timeout"), recipe, Harness.ORIGINAL);
        String runId = awaitRunFor(modelKey);

        StageRequest first = worker.next(runId);
        StageRequest second = worker.next(runId);
        StageRequest third = worker.next(runId);
        RunState failed = awaitState(runId, State.FAILED);

        assertThat(failed.stages()).as("the recipe has no eval stage: a final evaluation was appended, as in-process")
                .extracting(RunState.StageStatus::type).containsExactly("convert", "eval");
        assertThat(first.attempt()).isEqualTo(1);
        assertThat(second.attempt()).isEqualTo(2);
        assertThat(third.attempt()).isEqualTo(3);
        assertThat(second.deadline()).isAfter(first.deadline());
        assertThat(failed.error()).isEqualTo("stage 0 (convert) failed after 3 attempts: LIMIT_EXCEEDED: attempt 3 did not "
                + "finish within the stage timeout of PT3S");
        TestWorker.DeadLetter deadLetter = worker.nextDeadLetter(runId);
        assertThat(deadLetter.topic()).isEqualTo("modelpress.stage.convert.dlq");
        assertThat(deadLetter.request()).isEqualTo(third);
        assertThat(deadLetter.reason()).isEqualTo("LIMIT_EXCEEDED: attempt 3 did not finish within the stage timeout of PT3S");

        // a result that arrives after the run failed changes nothing
        worker.succeed(third, Harness.COMPRESSED, null);
        worker.assertNoRequest(runId, Duration.ofSeconds(2));
        assertThat(runs.get(runId).orElseThrow().state()).isEqualTo(State.FAILED);
    }

    @Test
    void cancelEndsTheRunAndTheStageResultThatComesLaterIsIgnored() throws InterruptedException {
        String name = Harness.uniqueName("cancel");
        String modelKey = drop(name, Harness.QUANTIZE_EVAL, Harness.ORIGINAL);
        String runId = awaitRunFor(modelKey);
        StageRequest quantize = worker.next(runId);

        given().delete("/api/runs/" + runId).then().statusCode(200)
                .body("state", equalTo("CANCELLED"))
                .body("stages[0].status", equalTo("CANCELLED"))
                .body("stages[1].status", equalTo("SKIPPED"));

        double endedBefore = counter(RunMetrics.IGNORED_RESULTS, "reason", "run-ended");
        worker.succeed(quantize, Harness.COMPRESSED, null);
        await().atMost(WAIT).until(() -> counter(RunMetrics.IGNORED_RESULTS, "reason", "run-ended") > endedBefore);
        assertThat(runs.get(runId).orElseThrow().state()).isEqualTo(State.CANCELLED);
        worker.assertNoRequest(runId, Duration.ofSeconds(1));
        assertThat(harness.store.list("outgoing/" + name + "/")).isEmpty();

        given().delete("/api/runs/" + runId).then().statusCode(409).body("code", equalTo("ALREADY_ENDED"));
        given().delete("/api/runs/run-0123456789abcdef").then().statusCode(404).body("code", equalTo("NOT_FOUND"));
    }

    @Test
    void withoutARecipeTheBucketDefaultAppliesElseTheBuiltInOne() {
        // every other test brings its recipe, so the bucket default may be set here without affecting them
        String viaApi = given().contentType("application/json")
                .body(Map.of("model", uploadElsewhere(Harness.uniqueName("builtin"))))
                .post("/api/runs").then().statusCode(201).extract().path("run_id");
        assertThat(runs.get(viaApi).orElseThrow().recipeSource()).isEqualTo("built-in:int8-dynamic");
        assertThat(worker.next(viaApi).stageType()).isEqualTo("quantize");

        String defaultRecipe = """
                name: bucket-default
                stages:
                  - convert: { to: fp16 }
                  - eval: { metrics: [cosine] }
                """;
        harness.put("config/default-recipe.yaml", defaultRecipe);
        String runId = awaitRunFor(drop(Harness.uniqueName("default"), null, Harness.ORIGINAL));
        assertThat(worker.next(runId).stageType()).isEqualTo("convert");
        RunState run = runs.get(runId).orElseThrow();
        assertThat(run.recipeSource()).isEqualTo("bucket-default");
        assertThat(run.recipeName()).isEqualTo("bucket-default");
        assertThat(run.recipeYaml()).isEqualTo(defaultRecipe);
    }

    private String uploadElsewhere(String name) {
        String key = "uploads/" + name + "/model.onnx"; // not under incoming/: the poller must not see it
        harness.put(key, Harness.ORIGINAL);
        return key;
    }

    @Test
    void theRunsTopicHoldsEveryRunsLatestState() {
        String runId = awaitRunFor(drop(Harness.uniqueName("restore"), Harness.QUANTIZE_EVAL, Harness.ORIGINAL));
        StageRequest quantize = worker.next(runId);
        worker.progress(quantize, 0.25, "a quarter");
        await().atMost(WAIT).until(() -> runs.get(runId).orElseThrow().stages().get(0).progress() == 0.25);

        // what a restarted orchestrator would read back into a fresh store
        Map<String, RunState> restored = runLog.readAll(Duration.ofSeconds(30)).stream()
                .collect(Collectors.toMap(RunState::runId, Function.identity()));
        Map<String, RunState> live = runs.all().stream().collect(Collectors.toMap(RunState::runId, Function.identity()));

        assertThat(restored.get(runId)).isEqualTo(live.get(runId));
        assertThat(restored.get(runId).stages().get(0).status()).isEqualTo(StageStatusValue.RUNNING);
        assertThat(restored).containsOnlyKeys(live.keySet());
        live.forEach((id, state) -> {
            if (state.state().terminal()) {
                assertThat(restored.get(id)).as(id).isEqualTo(state);
            }
        });
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
