package io.modelpress.worker.prune;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.sparse.SparsityRecord;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.devstack.DevStack;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.testing.DevStackResource;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import io.modelpress.pipeline.worker.StageWorker;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.reactive.messaging.kafka.KafkaClientService;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

/** The prune worker with core's real prune and lowrank stages, on models in a real S3 server, requests on a real broker. */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class PruneWorkerTest {
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

    /** A stage's parameters as the orchestrator sends them: parsed, with the defaults filled in. */
    private static Map<String, Object> params(String stage) {
        return RecipeParser.parse("stages:\n  - " + stage + "\n", "recipe.yaml").stages().get(0).params();
    }

    private StageResult runOnTheTopic(String type, Map<String, Object> params) throws IOException {
        String runId = StageRequests.newRunId();
        StageRequest request = StageRequests.request(runId, type, StageRequests.uploadSmallModel(store, runId, dir), params);
        Topic.send(bootstrap(), Topics.stage(type), runId, Json.write(request));
        return StageRequests.finalResult(bootstrap(), runId, WAIT);
    }

    @Test
    void pruneRequestOnTheTopicYieldsASparseModelAndItsReport() throws IOException {
        StageResult result = runOnTheTopic("prune", params("prune: { method: magnitude, ratio: 0.5 }"));

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.workerId()).startsWith("prune-worker-");
        OnnxModel pruned = OnnxModel.read(store.get(result.output(), dir.resolve("pruned.onnx")));
        // the small MLP's weights are w1 [8, 16] and w2 [16, 4]: exactly half of each is zero
        for (String weight : new String[] {"w1", "w2"}) {
            float[] w = pruned.floats(pruned.constant(weight).orElseThrow());
            long zeros = 0;
            for (float v : w) {
                zeros += v == 0f ? 1 : 0;
            }
            assertThat(zeros).as(weight).isEqualTo(w.length / 2);
        }
        assertThat(SparsityRecord.read(pruned)).hasSize(2);
        JsonNode report = result.metrics();
        assertThat(report.path("sparsity").asDouble()).isEqualTo(0.5);
        assertThat(report.path("after").path("gzip_bytes").asLong()).isPositive();

        given().when().get("/q/health").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("artifact-store"));
        given().when().get("/q/metrics").then().statusCode(200)
                .body(containsString("modelpress_stage_duration_seconds_count{outcome=\"succeeded\",stage=\"prune\"}"));
    }

    @Test
    void lowRankRequestsAreServedToo() throws IOException {
        StageResult result = runOnTheTopic("lowrank", params("lowrank: { rank_ratio: 0.25 }"));

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.stageType()).isEqualTo("lowrank");
        assertThat(result.metrics().path("factorized_nodes").asInt()).isPositive();
        assertThat(result.metrics().path("after").path("macs").asLong()).isLessThan(result.metrics().path("before").path("macs").asLong());
    }

    /** A prune request the pass cannot honour fails with the pass's reason, not a stack trace. */
    @Test
    void aModelWithoutPrunableWeightsFailsWithTheReason() throws IOException {
        StageResult result = runOnTheTopic("prune", params("prune: { method: magnitude, ratio: 0.5, include: { ops: [Conv] } }"));

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().message()).contains("no weights this pass can prune");
    }

    /** Criterion taylor needs gradients, hence libtorch, which this worker does not carry: it says so. */
    @Test
    void theTaylorCriterionIsRefusedWithWhereItRuns() throws IOException {
        StageResult result = runOnTheTopic("prune", params("prune: { method: structured, ratio: 0.5, criterion: taylor }"));

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().message()).contains("criterion taylor").contains("the train module").contains("modelpress compress");
    }

    /** The worker's application.properties names its stage types only; its topics, consumer group and health follow. */
    @Test
    void stageTypesDecideTheTopicsAndAreReportedInHealth() {
        assertThat(ConfigProvider.getConfig().getValue("mp.messaging.incoming.requests.topics", String.class))
                .isEqualTo("modelpress.stage.prune,modelpress.stage.lowrank");
        assertThat(kafkaClients.getConsumer("requests").configuration().get("group.id")).hasToString("modelpress-prune-worker");
        given().when().get("/q/health").then().statusCode(200)
                .body("checks.find { it.name == 'stage-types' }.status", equalTo("UP"))
                .body("checks.find { it.name == 'stage-types' }.data.runs", equalTo("prune,lowrank"))
                .body("checks.find { it.name == 'stage-types' }.data.topics", equalTo("modelpress.stage.prune,modelpress.stage.lowrank"));
    }

    @Test
    void aRequestOfAnotherStageTypeIsRefusedWithAResult() throws IOException {
        String runId = StageRequests.newRunId();
        StageResult result = worker.handle(StageRequests.request(runId, "quantize", StageRequests.uploadSmallModel(store, runId, dir),
                params("quantize: { mode: dynamic }")));

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.BAD_ARGUMENT.name());
        assertThat(result.error().message()).contains("runs only stage types prune, lowrank, not 'quantize'");
    }
}
