package io.modelpress.worker.distill;

import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.devstack.DevStack;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.testing.DevStackResource;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

/** The distill worker with train's real distill stage (DJL, CPU libtorch), models in a real S3 server, requests on a real broker. */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class DistillWorkerTest {
    private static final Duration WAIT = Duration.ofSeconds(180);
    private static final int SAMPLES = 256;

    @Inject
    ArtifactStore store;

    @TempDir
    Path dir;

    private ArtifactRef upload(String runId, String name, byte[] bytes) throws IOException {
        return StageRequests.upload(store, runId, name, bytes, dir);
    }

    /** Mean squared difference of two models' outputs on the same inputs, in ONNX Runtime. */
    private static double meanSquaredDifference(Path a, Path b, float[] x) {
        Map<String, HostArray> feeds = Map.of("x", HostArray.of(x, SAMPLES, 8));
        float[] ya;
        float[] yb;
        try (ModelSession sa = ModelSession.open(a, SessionSettings.DEFAULT.withThreads(1));
             ModelSession sb = ModelSession.open(b, SessionSettings.DEFAULT.withThreads(1))) {
            ya = sa.run(feeds).get("y").toFloats();
            yb = sb.run(feeds).get("y").toFloats();
        }
        double sum = 0;
        for (int i = 0; i < ya.length; i++) {
            sum += (ya[i] - yb[i]) * (double) (ya[i] - yb[i]);
        }
        return sum / ya.length;
    }

    @Test
    void aDistillRequestTrainsTheStudentTowardsTheOriginalModel() throws IOException {
        String runId = StageRequests.newRunId();
        ArtifactRef teacher = upload(runId, "input/model.onnx", SmallModels.mlp(8, 16, 4, false, 7).toByteArray());
        ArtifactRef student = upload(runId, "01-quantize-a1/model.onnx", SmallModels.mlp(8, 16, 4, false, 8).toByteArray());
        Random random = new Random(5);
        float[] x = new float[SAMPLES * 8];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        Path npz = dir.resolve("train.npz");
        NpyWriter.writeNpz(npz, Map.of("x", HostArray.of(x, SAMPLES, 8)), false);
        ArtifactRef data = store.put("runs/" + runId + "/data/train.npz", npz);
        Map<String, Object> params = RecipeParser.parse("stages:\n  - distill: { steps: 40, batch: 32, learning_rate: 0.01 }\n",
                "test-recipe.yaml").stages().get(0).params();
        StageRequest request = new StageRequest(runId, 2, 1, "distill", params, student, teacher, List.of(data), null,
                Instant.now().plus(Duration.ofHours(1)));

        String bootstrap = DevStack.shared().kafkaBootstrapServers();
        Topic.send(bootstrap, Topics.stage("distill"), runId, Json.write(request));
        StageResult result = StageRequests.finalResult(bootstrap, runId, WAIT);

        assertThat(result.status()).as(String.valueOf(result.error())).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(result.workerId()).startsWith("distill-worker-");
        assertThat(result.output().key()).isEqualTo(request.outputPrefix() + "model.onnx");
        assertThat(result.metrics().path("steps").asLong()).isEqualTo(40);
        assertThat(result.metrics().path("device").asText()).isEqualTo("cpu");
        Path teacherFile = store.get(teacher, dir.resolve("teacher.onnx"));
        Path studentFile = store.get(student, dir.resolve("student.onnx"));
        Path distilled = store.get(result.output(), dir.resolve("distilled.onnx"));
        double before = meanSquaredDifference(studentFile, teacherFile, x);
        double after = meanSquaredDifference(distilled, teacherFile, x);
        assertThat(after).as("squared difference to the teacher, before %s", before).isLessThan(0.5 * before);

        given().when().get("/q/metrics").then().statusCode(200)
                .body(containsString("modelpress_stage_duration_seconds_count{outcome=\"succeeded\",stage=\"distill\"}"));
    }

    /** The worker's application.properties names its stage type only; its topic and health follow from it. */
    @Test
    void stageTypesDecideTheTopicsAndAreReportedInHealth() {
        assertThat(ConfigProvider.getConfig().getValue("mp.messaging.incoming.requests.topics", String.class))
                .isEqualTo("modelpress.stage.distill");
        assertThat(ConfigProvider.getConfig().getValue("mp.messaging.incoming.requests.group.id", String.class))
                .isEqualTo("modelpress-distill-worker");
        given().when().get("/q/health").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.find { it.name == 'stage-types' }.status", equalTo("UP"))
                .body("checks.find { it.name == 'stage-types' }.data.runs", equalTo("distill"))
                .body("checks.find { it.name == 'stage-types' }.data.topics", equalTo("modelpress.stage.distill"))
                .body("checks.find { it.name == 'stage-types' }.data.available", containsString("distill"));
    }
}
