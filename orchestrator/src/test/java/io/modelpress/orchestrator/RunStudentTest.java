package io.modelpress.orchestrator;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.State;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.testing.DevStackResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;

/**
 * A run with a student (as {@code modelpress compress --student}): its first stage works on the student, every stage's
 * original is the model; a student that is no ONNX model or does not take the model's inputs is refused before any
 * stage. Real broker and S3 store, workers played by {@link TestWorker}.
 */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class RunStudentTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    /** A smaller MLP with the model's input x and output y, as a student of {@link Harness#ORIGINAL} would be. */
    private static final byte[] STUDENT = SmallModels.mlp(64, 16, 8, false, 7).toByteArray();

    @Inject
    RunStore runs;

    @Inject
    RunLog runLog;

    @Inject
    RunEngine engine;

    private final Harness harness = Harness.shared();
    private final TestWorker worker = harness.worker;

    /** The MLP with its input renamed: it gives the model's output, but not from the model's input. */
    private static byte[] otherInput(String name) {
        ModelProto.Builder model = SmallModels.mlp(64, 16, 8, false, 8).toBuilder();
        model.getGraphBuilder().getInputBuilder(0).setName(name);
        model.getGraphBuilder().getNodeBuilder(0).setInput(0, name);
        return model.build().toByteArray();
    }

    @Test
    void anUploadedStudentIsTheFirstStagesInputAndTheModelEveryStagesOriginal() throws Exception {
        String name = Harness.uniqueName("student-upload");
        String runId = given()
                .multiPart("model", "teacher.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("student", "small.onnx", STUDENT, "application/octet-stream")
                .multiPart("recipe", "recipe.yaml", Harness.QUANTIZE_EVAL.getBytes(StandardCharsets.UTF_8), "application/yaml")
                .multiPart("name", name)
                .post("/api/runs").then().statusCode(201)
                .body("student.key", endsWith("/input/student/small.onnx"))
                .extract().path("run_id");
        String in = "runs/" + runId + "/input/";

        StageRequest quantize = worker.next(runId);
        assertThat(quantize.input().key()).isEqualTo(in + "student/small.onnx");
        assertThat(quantize.input().sha256()).isEqualTo(RunLifecycleTest.sha256(STUDENT));
        assertThat(quantize.original().key()).isEqualTo(in + "teacher.onnx");
        assertThat(quantize.original().sha256()).isEqualTo(RunLifecycleTest.sha256(Harness.ORIGINAL));
        given().get("/api/runs/" + runId).then().statusCode(200)
                .body("input.key", equalTo(in + "teacher.onnx"))
                .body("student.key", equalTo(in + "student/small.onnx"));

        // the student is part of the persisted state: a restarted orchestrator reads it back and requests the same
        RunState restored = runLog.readAll(Duration.ofSeconds(30)).stream().filter(r -> r.runId().equals(runId))
                .findFirst().orElseThrow();
        assertThat(restored.student()).isEqualTo(quantize.input());
        assertThat(engine.request(restored, 0).input()).isEqualTo(quantize.input());

        ArtifactRef quantized = worker.succeed(quantize, Harness.COMPRESSED, null);
        StageRequest eval = worker.next(runId);
        assertThat(eval.input()).as("the next stage gets the stage's output").isEqualTo(quantized);
        assertThat(eval.original()).as("and still the model as its reference").isEqualTo(quantize.original());
        worker.succeedWithoutModel(eval, Json.MAPPER.readTree(Harness.EVAL_METRICS));
        await().atMost(WAIT).until(() -> runs.get(runId).map(r -> r.state() == State.SUCCEEDED).orElse(false));

        String outgoing = "outgoing/" + name + "/" + runId + "/";
        RunReport report = RunReports.read(harness.store.getJson(outgoing + "report.json", JsonNode.class).orElseThrow(), "report.json");
        assertThat(report.input().location()).isEqualTo("s3://" + harness.store.bucket() + "/" + in + "teacher.onnx");
        assertThat(report.size().inputBytes()).isEqualTo(Harness.ORIGINAL.length);
        assertThat(report.notes().get(0)).startsWith("the stages started from the student s3://" + harness.store.bucket() + "/"
                + in + "student/small.onnx (" + STUDENT.length + " bytes, sha256 " + RunLifecycleTest.sha256(STUDENT) + ")");
    }

    @Test
    void aStudentKeyInTheBucketIsCopiedAndStartsTheRun() {
        String folder = "uploads/" + Harness.uniqueName("student-keys") + "/";
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        harness.put(folder + "student/model.onnx", STUDENT); // the same file name as the model's: copies must not meet

        String runId = given().contentType(ContentType.JSON)
                .body(Map.of("model", folder + "model.onnx", "student", folder + "student/model.onnx", "recipe_name", "int8-dynamic"))
                .post("/api/runs").then().statusCode(201)
                .extract().path("run_id");

        StageRequest request = worker.next(runId);
        assertThat(request.input().key()).isEqualTo("runs/" + runId + "/input/student/model.onnx");
        assertThat(request.input().sha256()).isEqualTo(RunLifecycleTest.sha256(STUDENT));
        assertThat(request.original().key()).isEqualTo("runs/" + runId + "/input/model.onnx");
        assertThat(request.original().sha256()).isEqualTo(RunLifecycleTest.sha256(Harness.ORIGINAL));
    }

    @Test
    void aDroppedStudentBesideTheModelStartsTheRunAndIsNoRunOfItsOwn() {
        String name = Harness.uniqueName("student-drop");
        String folder = "incoming/" + name + "/";
        harness.put(folder + "recipe.yaml", Harness.QUANTIZE_EVAL);
        harness.put(folder + "student.onnx", STUDENT);
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        String runId = awaitRunFor(folder + "model.onnx");

        StageRequest quantize = worker.next(runId);
        assertThat(quantize.input().key()).isEqualTo("runs/" + runId + "/input/student/student.onnx");
        assertThat(quantize.input().sha256()).isEqualTo(RunLifecycleTest.sha256(STUDENT));
        assertThat(quantize.original().key()).isEqualTo("runs/" + runId + "/input/model.onnx");
        assertThat(runs.all()).noneMatch(r -> (folder + "student.onnx").equals(r.source()));
    }

    @Test
    void aDroppedStudentThatDoesNotTakeTheModelsInputsFailsTheRunBeforeAnyStage() throws InterruptedException {
        String name = Harness.uniqueName("student-drop-mismatch");
        String folder = "incoming/" + name + "/";
        harness.put(folder + "student.onnx", otherInput("pixels"));
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        String runId = awaitRunFor(folder + "model.onnx");

        await().atMost(WAIT).until(() -> runs.get(runId).map(r -> r.state() == State.FAILED).orElse(false));
        RunState failed = runs.get(runId).orElseThrow();
        assertThat(failed.error()).isEqualTo("DATA_MISMATCH: student " + folder + "student.onnx: has inputs [pixels] where the "
                + "model has [x]; a student must take the model's inputs and give its outputs, by name");
        assertThat(failed.stages()).isEmpty();
        worker.assertNoRequest(runId, Duration.ofSeconds(2));
    }

    @Test
    void aStudentThatIsNoOnnxModelOrDoesNotFitTheModelIsRefusedWithTheReason() {
        given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("student", "notes.onnx", "just some text\n".getBytes(StandardCharsets.UTF_8), "application/octet-stream")
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("NOT_ONNX"))
                .body("message", startsWith("student notes.onnx: is not an ONNX model"))
                .body("message", containsString("plain text"));
        given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("student", "small.onnx", otherInput("pixels"), "application/octet-stream")
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("DATA_MISMATCH"))
                .body("message", equalTo("student small.onnx: has inputs [pixels] where the model has [x]; a student must "
                        + "take the model's inputs and give its outputs, by name"));

        String refused = Harness.uniqueName("student-keys-bad");
        String folder = "uploads/" + refused + "/";
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        harness.put(folder + "student.onnx", otherInput("image"));
        given().contentType(ContentType.JSON).body(Map.of("model", folder + "model.onnx", "student", folder + "student.onnx"))
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("DATA_MISMATCH"))
                .body("message", startsWith("student " + folder + "student.onnx: has inputs [image] where the model has [x]"));
        given().contentType(ContentType.JSON).body(Map.of("model", folder + "model.onnx", "student", folder + "absent.onnx"))
                .post("/api/runs").then().statusCode(400)
                .body("message", containsString(folder + "absent.onnx"));
        assertThat(runs.all()).as("no run was created").noneMatch(r -> r.name().equals(refused));
    }

    private String awaitRunFor(String modelKey) {
        return await().atMost(WAIT).until(() -> runs.all().stream().filter(r -> modelKey.equals(r.source()))
                .map(RunState::runId).findFirst(), Optional::isPresent).orElseThrow();
    }
}
