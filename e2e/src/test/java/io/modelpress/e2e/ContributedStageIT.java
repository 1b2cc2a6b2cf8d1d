package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.stack.Service;
import io.modelpress.stack.ServiceProcess;
import io.modelpress.stack.Stack;
import io.modelpress.teststage.AnnotateStageProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A stage type that core does not know - {@code annotate}, from the e2e/test-stage jar, found by ServiceLoader through
 * that jar's META-INF/services - runs through {@code modelpress compress} (the jar on the class path) and through the
 * pipeline: the orchestrator and a worker process started with the jar on MODELPRESS_STAGE_PATH, the worker
 * configured to run that stage type alone. Its output is judged in ONNX Runtime against the original.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ContributedStageIT {
    private static final String RECIPE = """
            name: annotate-eval
            stages:
              - annotate: { key: reviewed-by, value: %s }
              - eval: { metrics: [cosine, size], gate: { min_cosine: 0.9999 } }
            """;

    @TempDir
    Path dir;

    /** The test-stage module's packaged jar: what an operator would drop into a stage folder. */
    static Path testStageJar() {
        try {
            Path jar = Path.of(AnnotateStageProvider.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            assertThat(jar.getFileName().toString()).as("the test stage must come from its jar").endsWith(".jar");
            return jar;
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void compressRunsTheContributedStageAndValidatesItsKeys() throws Exception {
        Path model = Files.write(dir.resolve("mlp.onnx"), E2eStack.mlp(16, 64, 8, 5));
        Path recipe = Files.writeString(dir.resolve("annotate.yaml"), RECIPE.formatted("in-process"));
        Path out = dir.resolve("out");

        Cli compress = Cli.run("compress", model.toString(), "--recipe", recipe.toString(), "--out", out.toString(), "--threads", "1");

        assertThat(compress.exitCode()).as(compress.toString()).isZero();
        assertThat(metadata(out.resolve("model.onnx"))).containsEntry("reviewed-by", "in-process");
        assertComputesLikeTheOriginal(model, out.resolve("model.onnx"));
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertThat(report.toString()).contains("01-annotate", "\"replaced\":false");

        Path bad = Files.writeString(dir.resolve("bad.yaml"), "stages:\n  - annotate: { colour: red }\n");
        Cli refused = Cli.run("compress", model.toString(), "--recipe", bad.toString(), "--out", dir.resolve("bad-out").toString());
        assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(2);
        assertThat(refused.err()).contains("bad.yaml:2:", "stages[0].annotate.colour: unknown key; expected one of: key, value, replace");
    }

    @Test
    void aWorkerConfiguredForTheContributedStageRunsItInThePipeline() throws Exception {
        E2eStack e2e = E2eStack.shared();
        Map<String, String> env = new HashMap<>(E2eStack.WORKER_ENV);
        env.put("MODELPRESS_WORKER_STAGE_TYPES", "annotate");
        env.put(Stages.PATH_VARIABLE, testStageJar().toString());
        env.put("MODELPRESS_WORKER_ID", "annotate-worker-1");
        env.put("MP_MESSAGING_INCOMING_REQUESTS_GROUP_ID", "modelpress-annotate-worker");
        // the packaged eval-worker application, told to run annotate stages instead: no build of its own
        Stack extra = Stack.tiedToThisJvm(e2e.projectRoot, E2eStack.stackDirectory("e2e-annotate-worker"))
                .withEnv(Service.EVAL_WORKER, env);
        ServiceProcess worker = extra.start(Service.EVAL_WORKER, e2e.endpoints);
        try {
            worker.awaitReady(Stack.START_TIMEOUT);
            JsonNode stageTypes = stageTypesCheck(worker.port());
            assertThat(stageTypes.path("status").asText()).isEqualTo("UP");
            assertThat(stageTypes.path("data").path("runs").asText()).isEqualTo("annotate");
            assertThat(stageTypes.path("data").path("topics").asText()).isEqualTo("modelpress.stage.annotate");
            assertThat(stageTypes.path("data").path("available").asText()).isEqualTo("quantize,convert,eval,annotate");

            String name = E2eStack.uniqueName("annotate");
            byte[] original = E2eStack.mlp(16, 64, 8, 6);
            e2e.put("incoming/" + name + "/recipe.yaml", RECIPE.formatted("pipeline"));
            e2e.put("incoming/" + name + "/model.onnx", original);
            RunState run = e2e.awaitEnd(e2e.awaitRunFor("incoming/" + name + "/model.onnx").runId());

            assertThat(run.state()).as(run.error()).isEqualTo(RunState.State.SUCCEEDED);
            assertThat(recordedResult(e2e, run, 0).workerId()).isEqualTo("annotate-worker-1");
            assertThat(recordedResult(e2e, run, 1).workerId()).startsWith("eval-worker-");
            Path outgoing = e2e.store.get(e2e.store.stat(run.outgoing() + "model.onnx").orElseThrow(), dir.resolve("outgoing.onnx"));
            assertThat(metadata(outgoing)).containsEntry("reviewed-by", "pipeline");
            assertComputesLikeTheOriginal(Files.write(dir.resolve("original.onnx"), original), outgoing);
        } finally {
            worker.stop(Duration.ofSeconds(10));
        }
    }

    private static Map<String, String> metadata(Path model) {
        Map<String, String> entries = new HashMap<>();
        OnnxModel.read(model).proto().getMetadataPropsList().forEach(e -> entries.put(e.getKey(), e.getValue()));
        return entries;
    }

    /** The annotation must not change what the model computes: equal outputs in ONNX Runtime on random inputs. */
    private static void assertComputesLikeTheOriginal(Path original, Path annotated) {
        int rows = 4;
        float[] x = SmallModels.random(new Random(17), rows * 16, 1f);
        float[] expected = Ort.runFirstOutput(original, Map.of("x", new Ort.Floats(x, rows, 16)));
        assertThat(Ort.runFirstOutput(annotated, Map.of("x", new Ort.Floats(x, rows, 16)))).containsExactly(expected);
    }

    private static JsonNode stageTypesCheck(int port) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        for (JsonNode check : new ObjectMapper().readTree(response.body()).path("checks")) {
            if (check.path("name").asText().equals("stage-types")) {
                return check;
            }
        }
        throw new AssertionError("no stage-types check in " + response.body());
    }

    private static StageResult recordedResult(E2eStack e2e, RunState run, int index) {
        RunState.StageStatus stage = run.stages().get(index);
        String key = "runs/" + run.runId() + "/" + StageSpec.label(stage.index(), stage.type()) + "-a" + stage.attempt() + "/stage.json";
        return e2e.store.getJson(key, StageResult.class).orElseThrow(() -> new AssertionError("no " + key));
    }
}
