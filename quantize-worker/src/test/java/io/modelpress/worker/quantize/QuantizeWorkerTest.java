package io.modelpress.worker.quantize;

import io.modelpress.pipeline.testing.DevStackResource;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.devstack.DevStack;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.kafka.StageRecords;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import io.modelpress.pipeline.worker.StageWorker;
import io.quarkus.test.common.WithTestResource;
import io.smallrye.reactive.messaging.kafka.KafkaClientService;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

@QuarkusTest
@WithTestResource(DevStackResource.class)
class QuantizeWorkerTest {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @Inject
    ArtifactStore store;

    @Inject
    KafkaClientService kafkaClients;

    @Inject
    StageWorker worker;

    @TempDir
    Path dir;

    private static String bootstrap() {
        return DevStack.shared().kafkaBootstrapServers();
    }

    private static List<StageResult> finals(String runId, int count) {
        return Topic.read(bootstrap(), Topics.STAGE_RESULTS, runId,
                        records -> records.stream().filter(r -> Json.read(r.value(), StageResult.class).isFinal()).count() >= count, WAIT)
                .stream().map(r -> Json.read(r.value(), StageResult.class)).filter(StageResult::isFinal).toList();
    }

    private StageRequest send(String type, Map<String, Object> params) throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
        StageRequest request = StageRequests.request(runId, type, input, params);
        Topic.send(bootstrap(), Topics.stage(type), runId, Json.write(request));
        return request;
    }

    @Test
    void requestOnTheTopicYieldsAResultAndTheServiceReportsIt() throws IOException {
        StageRequest request = send("quantize", Map.of("note", "via-kafka"));

        List<ConsumerRecord<String, byte[]>> records = Topic.read(bootstrap(), Topics.STAGE_RESULTS, request.runId(),
                rs -> rs.stream().anyMatch(r -> Json.read(r.value(), StageResult.class).isFinal()), WAIT);
        ConsumerRecord<String, byte[]> last = records.get(records.size() - 1);
        StageResult result = Json.read(last.value(), StageResult.class);
        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.workerId()).startsWith("quantize-worker-");
        assertThat(last.key()).isEqualTo(request.runId());
        assertThat(Topic.header(last, "ce_type")).isEqualTo(CloudEvents.STAGE_RESULT);
        assertThat(Topic.header(last, "ce_source")).startsWith("/modelpress/quantize-worker/");
        assertThat(records).anySatisfy(r -> assertThat(Topic.header(r, "ce_type")).isEqualTo(CloudEvents.STAGE_PROGRESS));
        Path output = store.get(result.output(), dir.resolve("out.onnx"));
        assertThat(OnnxModel.read(output).graph().getDocString()).isEqualTo("via-kafka");

        given().when().get("/q/health").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("artifact-store"));
        given().when().get("/q/metrics").then().statusCode(200)
                .body(containsString("modelpress_stage_duration_seconds_count{outcome=\"succeeded\",stage=\"quantize\"}"))
                .body(containsString("modelpress_stage_inflight{stage=\"quantize\"} 0.0"))
                .body(containsString("modelpress_stage_handoff_seconds_count{phase=\"download\",stage=\"quantize\"}"))
                .body(containsString("modelpress_model_bytes{phase=\"01-quantize\",run=\"" + request.runId() + "\"}"));
    }

    /** The worker's application.properties names its stage types only; its topics and health follow from them. */
    @Test
    void stageTypesDecideTheTopicsAndAreReportedInHealth() {
        assertThat(ConfigProvider.getConfig().getValue("mp.messaging.incoming.requests.topics", String.class))
                .isEqualTo("modelpress.stage.quantize,modelpress.stage.convert");
        given().when().get("/q/health").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.find { it.name == 'stage-types' }.status", equalTo("UP"))
                .body("checks.find { it.name == 'stage-types' }.data.runs", equalTo("quantize,convert"))
                .body("checks.find { it.name == 'stage-types' }.data.topics", equalTo("modelpress.stage.quantize,modelpress.stage.convert"))
                .body("checks.find { it.name == 'stage-types' }.data.available", equalTo("quantize,convert,prune,lowrank,eval"));
    }

    @Test
    void aRequestOfAnotherStageTypeIsRefusedWithAResult() throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, "eval", StageRequests.uploadSmallModel(store, runId, dir), Map.of("note", "refused"));

        StageResult result = worker.handle(request);

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.BAD_ARGUMENT.name());
        assertThat(result.error().message()).contains("runs only stage types quantize, convert, not 'eval'");
        assertThat(RecordingStages.NOTES).doesNotContain("refused");
        assertThat(finals(runId, 1)).containsExactly(result);
    }

    @Test
    void convertRequestsAreServedToo() throws IOException {
        StageRequest request = send("convert", Map.of("note", "converted"));

        assertThat(finals(request.runId(), 1)).singleElement().satisfies(result -> {
            assertThat(result.stageType()).isEqualTo("convert");
            assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
            assertThat(result.output().key()).isEqualTo(request.outputPrefix() + "model.onnx");
        });
    }

    @Test
    void unreadableRequestsGoToTheirTopicsDeadLetterTopic() {
        String key = StageRequests.newRunId();
        byte[] garbage = "{\"run_id\": 42, oops".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Topic.send(bootstrap(), Topics.stage("convert"), key, garbage);

        List<ConsumerRecord<String, byte[]>> dead = Topic.read(bootstrap(), Topics.deadLetters("convert"), key, r -> !r.isEmpty(), WAIT);
        assertThat(dead).singleElement().satisfies(record -> {
            assertThat(record.value()).isEqualTo(garbage);
            assertThat(Topic.header(record, StageRecords.DEAD_LETTER_REASON)).contains("not a usable StageRequest");
            assertThat(Topic.header(record, StageRecords.DEAD_LETTER_TOPIC)).isEqualTo(Topics.stage("convert"));
        });
        given().when().get("/q/health").then().statusCode(200).body("status", equalTo("UP"));
    }

    /**
     * A stage that runs longer than max.poll.interval.ms (3 s in the test profile) must not cost the consumer its
     * partitions: a rebalance would redeliver the request and run it again, or re-publish its result.
     */
    @Test
    void aStageLongerThanThePollIntervalRunsOnce() throws IOException {
        Map<String, ?> consumer = kafkaClients.getConsumer("requests").configuration();
        assertThat(consumer.get("max.poll.interval.ms")).hasToString("3000");
        assertThat(consumer.get("max.poll.records")).hasToString("1");
        assertThat(consumer.get("group.id")).hasToString("modelpress-quantize-worker");
        StageRequest slow = send("quantize", Map.of("note", "slow", "steps", 5, "step_ms", 1500));
        // the topic has one partition, so once this later request is answered, any redelivery of the slow one would have been handled
        StageRequest next = send("quantize", Map.of("note", "after-slow"));

        assertThat(finals(next.runId(), 1)).hasSize(1);
        assertThat(finals(slow.runId(), 1)).singleElement()
                .satisfies(result -> assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED));
        assertThat(RecordingStages.NOTES).containsOnlyOnce("slow");
        given().when().get("/q/metrics").then().statusCode(200)
                // the series exists from the start (at zero, so that rate() sees a first duplicate); none was counted
                .body(containsString("modelpress_stage_duplicates_total{stage=\"quantize\"} 0.0"));
        given().when().get("/q/health").then().statusCode(200).body("status", equalTo("UP"));
    }
}
