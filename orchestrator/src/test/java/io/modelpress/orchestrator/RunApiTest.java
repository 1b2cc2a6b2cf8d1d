package io.modelpress.orchestrator;

import io.modelpress.pipeline.testing.DevStackResource;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageRequest;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.everyItem;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

/** The REST API, server-sent events, OpenAPI, health and metrics endpoints, against devstack. */
@QuarkusTest
@WithTestResource(DevStackResource.class)
class RunApiTest {
    private static final String END_OF_STREAM = "<end>";

    @TestHTTPResource("/api/runs")
    URI runsUri;

    private final Harness harness = Harness.shared();
    private final TestWorker worker = harness.worker;

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void anUploadedModelRunsAndItsProgressStreamsUntilItEnds() throws Exception {
        String name = Harness.uniqueName("api-upload");
        Response created = given()
                .multiPart("model", "encoder.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("recipe", "recipe.yaml", utf8(Harness.QUANTIZE_EVAL), "application/yaml")
                .multiPart("data", "calibration.npy", new byte[] {1, 2, 3}, "application/octet-stream")
                .multiPart("data", "eval.jsonl", utf8("{\"text\": \"hello\"}\n"), "application/octet-stream")
                .multiPart("tokenizer", "tokenizer.json", utf8("{}"), "application/json")
                .multiPart("name", name)
                .post("/api/runs");
        created.then().statusCode(201)
                .body("state", equalTo("RUNNING"))
                .body("name", equalTo(name))
                .body("recipe_source", equalTo("api"))
                .body("stages[0].status", equalTo("QUEUED"))
                .body("stages[1].status", equalTo("WAITING"));
        String runId = created.path("run_id");
        assertThat(created.header("Location")).endsWith("/api/runs/" + runId);

        StageRequest quantize = worker.next(runId);
        assertThat(quantize.input().key()).isEqualTo("runs/" + runId + "/input/encoder.onnx");
        assertThat(quantize.input().sha256()).isEqualTo(RunLifecycleTest.sha256(Harness.ORIGINAL));
        assertThat(quantize.data()).extracting(ArtifactRef::key).containsExactly(
                "runs/" + runId + "/input/data/calibration.npy", "runs/" + runId + "/input/data/eval.jsonl");
        assertThat(quantize.tokenizer().key()).isEqualTo("runs/" + runId + "/input/tokenizer.json");
        given().get("/api/runs/" + runId).then().statusCode(200).body("run_id", equalTo(runId));

        BlockingQueue<String> events = follow(runsUri + "/" + runId + "/events");
        RunState first = next(events);
        assertThat(first.state()).isEqualTo(RunState.State.RUNNING);

        worker.progress(quantize, 0.5, "half way");
        worker.succeed(quantize, Harness.COMPRESSED, null);
        StageRequest eval = worker.next(runId);
        worker.succeedWithoutModel(eval, Json.MAPPER.readTree(Harness.EVAL_METRICS));

        List<RunState> seen = new ArrayList<>(List.of(first));
        for (RunState event = next(events); event != null; event = next(events)) {
            seen.add(event);
        }
        assertThat(seen.get(seen.size() - 1).state()).isEqualTo(RunState.State.SUCCEEDED);
        assertThat(seen).anySatisfy(s -> {
            assertThat(s.stages().get(0).status()).isEqualTo(RunState.StageStatusValue.RUNNING);
            assertThat(s.stages().get(0).progress()).isEqualTo(0.5);
            assertThat(s.stages().get(0).message()).isEqualTo("half way");
        });
        assertThat(seen).anySatisfy(s -> assertThat(s.stages().get(1).status()).isEqualTo(RunState.StageStatusValue.QUEUED));
        assertThat(seen).extracting(RunState::updatedAt).isSorted();
        assertThat(harness.store.exists("outgoing/" + name + "/" + runId + "/model.onnx")).isTrue();

        // the finished run's report, as a page and as JSON
        given().get("/api/runs/" + runId + "/report").then().statusCode(200)
                .contentType(containsString("text/html")).body(containsString("<svg")).body(containsString(runId));
        given().accept(ContentType.JSON).get("/api/runs/" + runId + "/report").then().statusCode(200)
                .body("run.id", equalTo(runId)).body("schema_version", equalTo(1));
        given().get("/api/runs/no-such-run/report").then().statusCode(404);

        // the stream of an ended run: its final state, then the end
        BlockingQueue<String> ended = follow(runsUri + "/" + runId + "/events");
        assertThat(next(ended).state()).isEqualTo(RunState.State.SUCCEEDED);
        assertThat(next(ended)).isNull();
    }

    @Test
    void unusableUploadsAreRefusedWithTheReason() {
        given().multiPart("model", "model.onnx", utf8("just some text\n"), "application/octet-stream")
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("NOT_ONNX"))
                .body("message", startsWith("model.onnx: is not an ONNX model"))
                .body("message", containsString("plain text"));
        given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("recipe", "recipe.yaml", utf8("stages:\n  - quantize:\n      mode: dynamic\n      bits: 3\n"), "application/yaml")
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("BAD_RECIPE"))
                .body("message", containsString("recipe.yaml:4:"))
                .body("message", containsString("stages[0].quantize.bits"));
        // distill's keys are known here (train's provider), though its stage runs only in distill-worker
        given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("recipe", "recipe.yaml", utf8("stages:\n  - distill: { temprature: 2 }\n"), "application/yaml")
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("BAD_RECIPE"))
                .body("message", containsString("stages[0].distill.temprature"));
        given().multiPart("name", "nothing").post("/api/runs").then().statusCode(400)
                .body("code", equalTo("BAD_ARGUMENT")).body("message", containsString("'model'"));
        given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("recipe_name", "int3-magic")
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("BAD_ARGUMENT")).body("message", containsString("int8-dynamic"));
        given().multiPart("model", "model.onnx", Harness.ORIGINAL, "application/octet-stream")
                .multiPart("data", "a.npy", new byte[] {1}, "application/octet-stream")
                .multiPart("data", "a.npy", new byte[] {2}, "application/octet-stream")
                .post("/api/runs").then().statusCode(400).body("message", containsString("two data files are named 'a.npy'"));
    }

    @Test
    void aRunOverObjectsInTheBucketCopiesThemFirst() {
        String folder = "uploads/" + Harness.uniqueName("api-keys") + "/";
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        harness.put(folder + "samples.jsonl", "{\"text\": \"a sentence\"}\n");

        String runId = given().contentType(ContentType.JSON)
                .body(Map.of("model", folder + "model.onnx", "recipe_name", "int8-dynamic", "data", List.of(folder + "samples.jsonl")))
                .post("/api/runs").then().statusCode(201)
                .body("recipe_source", equalTo("built-in:int8-dynamic"))
                .body("source", equalTo("api"))
                .extract().path("run_id");

        StageRequest request = worker.next(runId);
        assertThat(request.input().key()).isEqualTo("runs/" + runId + "/input/model.onnx");
        assertThat(request.data()).extracting(ArtifactRef::key).containsExactly("runs/" + runId + "/input/data/samples.jsonl");
        assertThat(harness.store.exists(folder + "model.onnx")).isTrue();

        given().contentType(ContentType.JSON).body(Map.of("model", folder + "missing.onnx"))
                .post("/api/runs").then().statusCode(400)
                .body("code", equalTo("BAD_ARGUMENT")).body("message", containsString("missing.onnx"));
        given().contentType(ContentType.JSON).body(Map.of("name", "x"))
                .post("/api/runs").then().statusCode(400).body("code", equalTo("BAD_ARGUMENT"));
        given().contentType(ContentType.JSON)
                .body(Map.of("model", folder + "model.onnx", "recipe", "stages: []\n", "recipe_name", "fp16"))
                .post("/api/runs").then().statusCode(400).body("message", containsString("at most one"));
    }

    @Test
    void runsAreListedNewestFirstAndFilteredByState() {
        String folder = "uploads/" + Harness.uniqueName("api-list") + "/";
        harness.put(folder + "model.onnx", Harness.ORIGINAL);
        String older = submit(folder + "model.onnx");
        String newer = submit(folder + "model.onnx");

        List<String> ids = given().get("/api/runs").then().statusCode(200).extract().jsonPath().getList("run_id");
        assertThat(ids.indexOf(newer)).isLessThan(ids.indexOf(older));
        given().queryParam("state", "running").get("/api/runs").then().statusCode(200)
                .body("state", everyItem(equalTo("RUNNING")))
                .body("run_id", hasItem(newer));
        given().queryParam("limit", 1).get("/api/runs").then().statusCode(200).body("size()", equalTo(1));
        given().queryParam("state", "sleeping").get("/api/runs").then().statusCode(400)
                .body("code", equalTo("BAD_ARGUMENT")).body("message", containsString("SUCCEEDED"));

        given().get("/api/runs/run-ffffffffffffffff").then().statusCode(404)
                .contentType(ContentType.JSON)
                .body("code", equalTo("NOT_FOUND")).body("message", containsString("run-ffffffffffffffff"));
        given().get("/api/runs/run-ffffffffffffffff/events").then().statusCode(404).body("code", equalTo("NOT_FOUND"));
    }

    private String submit(String modelKey) {
        return given().contentType(ContentType.JSON).body(Map.of("model", modelKey, "recipe_name", "int8-dynamic"))
                .post("/api/runs").then().statusCode(201).extract().path("run_id");
    }

    @Test
    void openApiHealthAndMetricsAreServed() {
        String openApi = given().queryParam("format", "json").get("/q/openapi").then().statusCode(200).extract().asString();
        JsonNode spec = Json.read(utf8(openApi), JsonNode.class);
        assertThat(spec.path("paths").has("/api/runs")).isTrue();
        assertThat(spec.path("paths").has("/api/runs/{id}")).isTrue();
        assertThat(spec.path("paths").path("/api/runs/{id}/events").path("get").path("responses").toString())
                .contains("text/event-stream");
        assertThat(spec.path("components").path("schemas").path("RunState").path("properties").has("run_id")).isTrue();

        given().get("/q/health/ready").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("runs-state"));
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));

        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertThat(metrics).contains("modelpress_runs_active ")
                .contains("modelpress_runs_total{outcome=\"failed\"}")
                .contains("kafka_consumer_fetch_manager_records_consumed_total")
                .contains("kafka_producer_record_send_total");
    }

    /** Reads a server-sent-event stream in the background: one queue entry per data line, then the end marker. */
    static BlockingQueue<String> follow(String url) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).header("Accept", "text/event-stream").build();
        client.sendAsync(request, HttpResponse.BodyHandlers.ofLines()).thenAccept(response -> {
            assertThat(response.statusCode()).isEqualTo(200);
            response.body().filter(line -> line.startsWith("data:")).forEach(line -> lines.add(line.substring(5).trim()));
            lines.add(END_OF_STREAM);
        }).exceptionally(e -> {
            lines.add(END_OF_STREAM);
            return null;
        });
        return lines;
    }

    /** The next event's run state, or null at the end of the stream. */
    static RunState next(BlockingQueue<String> events) throws InterruptedException {
        String data = events.poll(TestWorker.WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(data).as("an event or the end of the stream within " + TestWorker.WAIT).isNotNull();
        return END_OF_STREAM.equals(data) ? null : Json.read(utf8(data), RunState.class);
    }
}
