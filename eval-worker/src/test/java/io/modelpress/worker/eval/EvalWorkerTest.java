package io.modelpress.worker.eval;

import io.modelpress.pipeline.testing.DevStackResource;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.devstack.DevStack;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

/** The eval worker with core's real evaluation stage, on models in a real S3 server, requests on a real broker. */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class EvalWorkerTest {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @Inject
    ArtifactStore store;

    @TempDir
    Path dir;

    private static Map<String, Object> evalParams(double minCosine) {
        String recipe = "stages:\n  - eval: { metrics: [cosine], samples: 16, batch: 4, gate: { min_cosine: " + minCosine + " } }\n";
        return RecipeParser.parse(recipe, "test-recipe.yaml").stages().get(0).params();
    }

    private ArtifactRef upload(String runId, String name, byte[] bytes) throws IOException {
        return StageRequests.upload(store, runId, name, bytes, dir);
    }

    private StageResult evaluate(String runId, ArtifactRef input, ArtifactRef original, Map<String, Object> params) {
        StageRequest request = new StageRequest(runId, 1, 1, "eval", params, input, original, List.of(), null,
                Instant.now().plus(Duration.ofHours(1)));
        String bootstrap = DevStack.shared().kafkaBootstrapServers();
        Topic.send(bootstrap, Topics.stage("eval"), runId, Json.write(request));
        return StageRequests.finalResult(bootstrap, runId, WAIT);
    }

    @Test
    void faithfulModelPassesTheGateAndIsHandedOn() throws IOException {
        String runId = StageRequests.newRunId();
        byte[] originalBytes = SmallModels.mlp(8, 16, 4, false, 7).toByteArray();
        ArtifactRef original = upload(runId, "input/model.onnx", originalBytes);
        // the same weights with another doc string: a different file that computes the same function
        Path copy = dir.resolve("copy.onnx");
        Files.write(copy, originalBytes);
        OnnxModel edited = OnnxModel.read(copy);
        edited.graph().setDocString("re-exported");
        edited.write(copy);
        ArtifactRef input = store.put("runs/" + runId + "/01-quantize-a1/model.onnx", copy);

        StageResult result = evaluate(runId, input, original, evalParams(0.99));

        assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.workerId()).startsWith("eval-worker-");
        assertThat(result.output()).isEqualTo(input);
        assertThat(result.metrics().get("gate").asText()).isEqualTo("passed");
        assertThat(result.metrics().get("outputs").elements().next().get("cosine").get("mean").asDouble()).isGreaterThan(0.9999);
        assertThat(store.exists("runs/" + runId + "/02-eval-a1/model.onnx")).isFalse();
        assertThat(store.exists("runs/" + runId + "/02-eval-a1/stage.json")).isTrue();

        given().when().get("/q/health").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("artifact-store"))
                .body("checks.find { it.name == 'stage-types' }.data.runs", equalTo("eval"))
                .body("checks.find { it.name == 'stage-types' }.data.topics", equalTo("modelpress.stage.eval"));
        given().when().get("/q/metrics").then().statusCode(200)
                .body(containsString("modelpress_stage_duration_seconds_count{outcome=\"succeeded\",stage=\"eval\"}"))
                .body(containsString("modelpress_stage_inflight{stage=\"eval\"} 0.0"))
                .body(containsString("modelpress_model_bytes{phase=\"02-eval\",run=\"" + runId + "\"}"));
    }

    @Test
    void differentModelFailsTheGateNamingTheMetric() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef original = upload(runId, "input/model.onnx", SmallModels.mlp(8, 16, 4, false, 7).toByteArray());
        ArtifactRef other = upload(runId, "01-quantize-a1/model.onnx", SmallModels.mlp(8, 16, 4, false, 8).toByteArray());

        StageResult result = evaluate(runId, other, original, evalParams(0.999));

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.GATE_FAILED.name());
        assertThat(result.error().retryable()).isFalse();
        assertThat(result.error().message()).contains("min_cosine", "below the limit");
        assertThat(result.metrics().get("gate").asText()).isEqualTo("failed");
    }

    @Test
    void inputThatIsNotOnnxFailsWithACodeAndTheObjectName() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef original = upload(runId, "input/model.onnx", SmallModels.mlp(8, 16, 4, false, 7).toByteArray());
        ArtifactRef broken = upload(runId, "01-quantize-a1/model.onnx", "not a model".getBytes(StandardCharsets.UTF_8));

        StageResult result = evaluate(runId, broken, original, evalParams(0.99));

        assertThat(result.status()).isEqualTo(StageResult.Status.FAILED);
        assertThat(result.error().code()).isEqualTo(ErrorCode.NOT_ONNX.name());
        assertThat(result.error().message()).contains(broken.key());
    }
}
