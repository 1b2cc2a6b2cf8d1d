package io.modelpress.pipeline.worker;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.stage.Stage;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.kafka.KafkaPublisher;
import io.modelpress.pipeline.kafka.StageRecords;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.pipeline.store.StoredObject;
import io.modelpress.pipeline.testing.CountingStage;
import io.modelpress.pipeline.testing.DocStringStage;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

class StageWorkerTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static Endpoints endpoints;
    private static ArtifactStore store;
    private static KafkaPublisher publisher;

    @TempDir
    Path dir;
    @TempDir
    Path temp;
    private PrometheusMeterRegistry registry;
    private StageMetrics metrics;

    @BeforeAll
    static void start() {
        endpoints = DevStack.shared();
        store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(), endpoints.bucket()));
        store.ensureBucket();
        publisher = new KafkaPublisher(endpoints.kafkaBootstrapServers(), "/modelpress/test", Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        publisher.close();
        store.close();
    }

    @AfterEach
    void closeMetrics() {
        if (metrics != null) {
            metrics.close();
        }
    }

    private StageWorker worker(ArtifactStore artifacts, Function<String, Stage> stages, Duration progressInterval) {
        return worker(artifacts, stages, progressInterval, WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL);
    }

    private StageWorker worker(ArtifactStore artifacts, Function<String, Stage> stages, Duration progressInterval,
                               Duration heartbeatInterval) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        metrics = new StageMetrics(registry);
        WorkerSettings settings = new WorkerSettings("test-worker", Set.of("quantize", "eval"), 1,
                new Retry(3, Duration.ofMillis(10), Duration.ofMillis(40)), progressInterval, heartbeatInterval, temp);
        return new StageWorker(artifacts, publisher, publisher, metrics, settings, stages);
    }

    private StageWorker worker(Stage stage) {
        return worker(store, type -> stage, Duration.ofSeconds(1));
    }

    private static List<ConsumerRecord<String, byte[]>> results(String runId, int finals) {
        return Topic.read(endpoints.kafkaBootstrapServers(), Topics.STAGE_RESULTS, runId,
                records -> records.stream().filter(r -> Json.read(r.value(), StageResult.class).isFinal()).count() >= finals, WAIT);
    }

    private static List<StageResult> bodies(List<ConsumerRecord<String, byte[]>> records) {
        return records.stream().map(r -> Json.read(r.value(), StageResult.class)).toList();
    }

    @Test
    void requestYieldsOutputInS3AndOneSucceededResult() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
        ArtifactRef data = store.putBytes("runs/" + runId + "/input/data/calib.jsonl", "{\"x\":1}\n".getBytes(StandardCharsets.UTF_8), "application/x-ndjson");
        StageRequest request = new StageRequest(runId, 0, 1, "quantize", Map.of("note", "hello", "steps", 3), input, input,
                List.of(data), null, Instant.now().plus(Duration.ofHours(1)));

        StageResult result = worker(new DocStringStage()).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.error()).isNull();
        assertThat(result.workerId()).isEqualTo("test-worker");
        assertThat(result.output().key()).isEqualTo("runs/" + runId + "/01-quantize-a1/model.onnx");
        assertThat(result.metrics().get("note").asText()).isEqualTo("hello");
        assertThat(result.metrics().get("data_files").asInt()).isEqualTo(1);
        assertThat(result.metrics().get("same_original").asBoolean()).isTrue();
        assertThat(result.timings()).isNotNull();

        Path output = store.get(result.output(), dir.resolve("output.onnx"));
        assertThat(OnnxModel.read(output).graph().getDocString()).isEqualTo("hello");
        assertThat(store.getJson(request.outputPrefix() + StageWorker.STAGE_JSON, StageResult.class)).contains(result);

        List<ConsumerRecord<String, byte[]>> records = results(runId, 1);
        List<StageResult> events = bodies(records);
        assertThat(events).filteredOn(StageResult::isFinal).containsExactly(result);
        assertThat(events.get(events.size() - 1)).isEqualTo(result);
        assertThat(events).filteredOn(e -> e.status() == StageResult.Status.PROGRESS).isNotEmpty()
                .allSatisfy(e -> assertThat(e.progress()).isBetween(0.0, 1.0));
        ConsumerRecord<String, byte[]> last = records.get(records.size() - 1);
        assertThat(Topic.header(last, "ce_type")).isEqualTo(CloudEvents.STAGE_RESULT);
        assertThat(Topic.header(last, "ce_specversion")).isEqualTo("1.0");
        assertThat(Topic.header(records.get(0), "ce_type")).isEqualTo(CloudEvents.STAGE_PROGRESS);

        assertThat(temp).isEmptyDirectory();
        String scrape = registry.scrape();
        assertThat(scrape).contains("modelpress_stage_duration_seconds_count{outcome=\"succeeded\",stage=\"quantize\"} 1");
        assertThat(scrape).contains("modelpress_stage_inflight{stage=\"quantize\"} 0");
        assertThat(scrape).contains("modelpress_model_bytes{phase=\"01-quantize\",run=\"" + runId + "\"} " + (double) result.output().bytes());
        assertThat(scrape).contains("modelpress_stage_transfer_bytes_total{direction=\"download\",stage=\"quantize\"} " + (double) (input.bytes() + data.bytes()));
        assertThat(scrape).doesNotContain("modelpress_stage_progress_ratio{");
    }

    @Test
    void duplicateDeliveryRepublishesTheStoredResultWithoutRecomputing() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir), Map.of());
        CountingStage stage = new CountingStage(new DocStringStage());
        StageWorker worker = worker(stage);

        StageResult first = worker.handle(request);
        StoredObject written = store.list(request.outputPrefix() + StageWorker.MODEL_ONNX).get(0);
        StageResult second = worker.handle(request);

        assertThat(second).isEqualTo(first);
        assertThat(stage.runs()).isEqualTo(1);
        assertThat(store.list(request.outputPrefix())).extracting(StoredObject::key)
                .containsExactly(request.outputPrefix() + StageWorker.MODEL_ONNX, request.outputPrefix() + StageWorker.STAGE_JSON);
        assertThat(store.list(request.outputPrefix() + StageWorker.MODEL_ONNX).get(0)).isEqualTo(written);
        assertThat(bodies(results(runId, 2))).filteredOn(StageResult::isFinal).containsExactly(first, first);
        assertThat(registry.scrape()).contains("modelpress_stage_duplicates_total{stage=\"quantize\"} 1.0");
    }

    @Test
    void inputThatIsNotOnnxFailsAtOnceWithNotOnnx() {
        String runId = StageRequests.newRunId();
        ArtifactRef input = store.putBytes("runs/" + runId + "/input/model.onnx",
                "this is a text file, not a model".getBytes(StandardCharsets.UTF_8), "application/octet-stream");
        CountingStage stage = new CountingStage(new DocStringStage());

        StageResult result = worker(stage).handle(StageRequests.request(runId, "quantize", input, Map.of()));

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.NOT_ONNX.name());
        assertThat(result.error().retryable()).isFalse();
        assertThat(result.error().message()).contains("s3://" + input.bucket() + "/" + input.key()).doesNotContain(temp.toString());
        assertThat(stage.runs()).isEqualTo(1);
        assertThat(store.exists("runs/" + runId + "/01-quantize-a1/model.onnx")).isFalse();
        assertThat(bodies(results(runId, 1))).filteredOn(StageResult::isFinal).containsExactly(result);
        assertThat(Topic.read(endpoints.kafkaBootstrapServers(), Topics.deadLetters("quantize"), runId, r -> false, Duration.ofSeconds(2))).isEmpty();
        assertThat(registry.scrape()).contains("modelpress_stage_duration_seconds_count{outcome=\"failed\",stage=\"quantize\"} 1");
        assertThat(temp).isEmptyDirectory();
    }

    @Test
    void transientStoreFailureIsRetriedThenDeadLettered() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
        StageRequest request = StageRequests.request(runId, "quantize", input, Map.of());
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        CountingStage stage = new CountingStage(new DocStringStage());
        try (ArtifactStore unreachable = new ArtifactStore(S3Settings.of("http://127.0.0.1:" + closedPort, "a", "b", endpoints.bucket()))) {
            StageResult result = worker(unreachable, type -> stage, Duration.ofSeconds(1)).handle(request);

            assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
            assertThat(result.error().code()).isEqualTo(ErrorCode.IO_ERROR.name());
            assertThat(result.error().retryable()).isFalse();
            assertThat(result.error().message()).contains("gave up after 3 attempts", "cannot connect");
        }
        assertThat(stage.runs()).isZero();
        assertThat(registry.scrape()).contains("modelpress_stage_retries_total{phase=\"check\",stage=\"quantize\"} 2.0",
                "modelpress_stage_dead_letters_total{stage=\"quantize\"} 1.0",
                "modelpress_stage_duration_seconds_count{outcome=\"dead_lettered\",stage=\"quantize\"} 1");

        List<ConsumerRecord<String, byte[]>> dead = Topic.read(endpoints.kafkaBootstrapServers(), Topics.deadLetters("quantize"), runId,
                r -> !r.isEmpty(), WAIT);
        assertThat(dead).hasSize(1);
        assertThat(Json.read(dead.get(0).value(), StageRequest.class)).isEqualTo(request);
        assertThat(Topic.header(dead.get(0), StageRecords.DEAD_LETTER_REASON)).contains("gave up after 3 attempts");
        assertThat(Topic.header(dead.get(0), StageRecords.DEAD_LETTER_TOPIC)).isEqualTo(Topics.stage("quantize"));
        assertThat(bodies(results(runId, 1))).filteredOn(StageResult::isFinal).singleElement()
                .satisfies(r -> assertThat(r.error().retryable()).isFalse());
    }

    @Test
    void transientStageFailureIsRetriedInAFreshFolder() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir), Map.of());
        DocStringStage real = new DocStringStage();
        int[] calls = {0};
        Stage flaky = context -> {
            try {
                assertThat(context.workDir()).isEmptyDirectory();
                Files.writeString(context.workDir().resolve("half-written"), "x");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            if (calls[0]++ == 0) {
                throw new ModelPressException(ErrorCode.IO_ERROR, "scratch disk", "hiccup");
            }
            return real.run(context);
        };

        StageResult result = worker(flaky).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(calls[0]).isEqualTo(2);
        assertThat(registry.scrape()).contains("modelpress_stage_retries_total{phase=\"run\",stage=\"quantize\"} 1.0");
    }

    @Test
    void failedGateKeepsTheModelAndReportsGateFailed() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir), Map.of("min_nodes", 1000));

        StageResult result = worker(new DocStringStage()).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.GATE_FAILED.name());
        assertThat(result.error().message()).contains("fewer than min_nodes 1000");
        assertThat(result.output()).isNotNull();
        assertThat(result.metrics().get("nodes").asInt()).isPositive();
        assertThat(store.exists(result.output().key())).isTrue();
        assertThat(registry.scrape()).contains("modelpress_stage_duration_seconds_count{outcome=\"gate_failed\",stage=\"quantize\"} 1");
    }

    @Test
    void stageWithoutANewModelHandsItsInputOn() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
        StageRequest request = StageRequests.request(runId, "eval", input, Map.of("write", false));

        StageResult result = worker(new DocStringStage()).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.output()).isEqualTo(input);
        assertThat(store.list(request.outputPrefix())).extracting(StoredObject::key).containsExactly(request.outputPrefix() + StageWorker.STAGE_JSON);
    }

    @Test
    void passedDeadlineFailsWithoutRunning() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
        StageRequest request = new StageRequest(runId, 0, 2, "quantize", Map.of(), input, input, List.of(), null,
                Instant.now().minusSeconds(5));
        CountingStage stage = new CountingStage(new DocStringStage());

        StageResult result = worker(stage).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED.name());
        assertThat(result.error().message()).contains("deadline", "attempt 2");
        assertThat(stage.runs()).isZero();
        assertThat(store.list(request.outputPrefix())).isEmpty();
    }

    @Test
    void unreadableRecordGoesToTheDeadLetterTopic() {
        String key = StageRequests.newRunId();
        byte[] garbage = "{not json".getBytes(StandardCharsets.UTF_8);

        assertThat(worker(new DocStringStage()).handle("quantize", key, garbage)).isEmpty();

        List<ConsumerRecord<String, byte[]>> dead = Topic.read(endpoints.kafkaBootstrapServers(), Topics.deadLetters("quantize"), key,
                r -> !r.isEmpty(), WAIT);
        assertThat(dead).singleElement().satisfies(record -> {
            assertThat(record.value()).isEqualTo(garbage);
            assertThat(Topic.header(record, StageRecords.DEAD_LETTER_REASON)).contains("not a usable StageRequest", "not valid JSON");
        });
    }

    @Test
    void requestOnTheWrongTopicFailsNamingBoth() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir), Map.of());
        CountingStage stage = new CountingStage(new DocStringStage());

        StageResult result = worker(stage).handle("eval", runId, Json.write(request)).orElseThrow();

        assertThat(result.error().code()).isEqualTo(ErrorCode.BAD_ARGUMENT.name());
        assertThat(result.error().message()).contains("'quantize' request", Topics.stage("eval"));
        assertThat(stage.runs()).isZero();
    }

    @Test
    void requestOfAStageTypeTheWorkerDoesNotRunIsRefusedAndNotRecorded() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "convert", StageRequests.uploadSmallModel(store, runId, dir), Map.of());
        CountingStage stage = new CountingStage(new DocStringStage());

        StageResult result = worker(stage).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.BAD_ARGUMENT.name());
        assertThat(result.error().retryable()).isFalse();
        assertThat(result.error().message()).contains("this worker (test-worker) runs only stage types", "quantize", "eval",
                "not 'convert'", "modelpress.worker.stage-types", Topics.stage("convert"));
        assertThat(stage.runs()).isZero();
        assertThat(bodies(results(runId, 1))).filteredOn(StageResult::isFinal).containsExactly(result);
        assertThat(store.exists(request.outputPrefix() + StageWorker.STAGE_JSON))
                .as("a worker that runs convert must still be able to run the attempt").isFalse();
    }

    @Test
    void progressEventsAreThrottled() throws IOException {
        String quietRun = StageRequests.newRunId();
        worker(store, type -> new DocStringStage(), Duration.ofHours(1)).handle(
                StageRequests.request(quietRun, "quantize", StageRequests.uploadSmallModel(store, quietRun, dir), Map.of("steps", 50)));
        String chattyRun = StageRequests.newRunId();
        worker(store, type -> new DocStringStage(), Duration.ZERO).handle(
                StageRequests.request(chattyRun, "quantize", StageRequests.uploadSmallModel(store, chattyRun, dir), Map.of("steps", 5)));

        // one interval per hour: only the first report goes out; no interval: the first plus all five steps
        assertThat(bodies(results(quietRun, 1))).filteredOn(e -> !e.isFinal()).hasSize(1);
        List<StageResult> chatty = bodies(results(chattyRun, 1)).stream().filter(e -> !e.isFinal()).toList();
        assertThat(chatty).hasSize(6);
        assertThat(chatty).extracting(StageResult::progress).isSorted();
        assertThat(chatty).extracting(StageResult::message).contains("step 5 of 5");
    }

    @Test
    void aStageThatReportsNothingStillHeartbeatsUntilItsResult() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir), Map.of());
        DocStringStage real = new DocStringStage();
        Stage silent = context -> {
            context.progress().progress(0.25, "thinking");
            sleep(Duration.ofMillis(1500)); // one long call that reports nothing
            return real.run(context);
        };

        // progress events are throttled to one per hour; the heartbeat repeats the last one every 100 ms
        StageResult result = worker(store, type -> silent, Duration.ofHours(1), Duration.ofMillis(100)).handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        List<StageResult> events = bodies(results(runId, 1));
        assertThat(events.get(events.size() - 1)).as("the final result is the last event").isEqualTo(result);
        List<StageResult> repeated = events.stream()
                .filter(e -> e.status() == StageResult.Status.PROGRESS && "thinking".equals(e.message())).toList();
        assertThat(repeated).as("heartbeats while the stage was silent for 1.5 s").hasSizeGreaterThanOrEqualTo(3)
                .allSatisfy(e -> {
                    assertThat(e.progress()).isEqualTo(0.25);
                    assertThat(e.attempt()).isEqualTo(request.attempt());
                    assertThat(e.workerId()).isEqualTo("test-worker");
                });
    }

    @Test
    void anAttemptTheOrchestratorAbandonedIsAnsweredFromItsRecordWithoutRunning() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir), Map.of());
        // what the orchestrator records for an attempt whose worker went silent (a redelivery must not run it again)
        StageResult abandoned = new StageResult(runId, request.stageIndex(), request.attempt(), "quantize", StageResult.Status.FAILED,
                0.5, "attempt 1 stalled", null, null, new StageResult.Error(ErrorCode.LIMIT_EXCEEDED.name(), "attempt 1 stalled", false),
                "orchestrator", null, Instant.now());
        store.putJson(request.outputPrefix() + StageWorker.STAGE_JSON, abandoned);
        CountingStage stage = new CountingStage(new DocStringStage());

        StageResult result = worker(stage).handle(request);

        assertThat(result).isEqualTo(abandoned);
        assertThat(stage.runs()).isZero();
        assertThat(store.exists(request.outputPrefix() + StageWorker.MODEL_ONNX)).isFalse();
        assertThat(bodies(results(runId, 1))).filteredOn(StageResult::isFinal).containsExactly(abandoned);
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
