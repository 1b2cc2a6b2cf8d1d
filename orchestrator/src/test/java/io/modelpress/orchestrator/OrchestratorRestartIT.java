package io.modelpress.orchestrator;

import io.modelpress.devstack.LogTail;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The packaged orchestrator (target/quarkus-app/quarkus-run.jar) as a process, configured through environment
 * variables as in a deployment: killed with SIGKILL in the middle of a run, while the worker finishes its stage, then
 * started again. The run must continue from the runs topic and the result waiting on the results topic.
 */
class OrchestratorRestartIT {
    private static final Duration WAIT = Duration.ofSeconds(120);

    private final Harness harness = Harness.shared();
    private final TestWorker worker = harness.worker;
    private final HttpClient http = HttpClient.newHttpClient();
    private final List<Process> processes = new ArrayList<>();
    private int port;

    @AfterEach
    void stopProcesses() throws InterruptedException {
        for (Process process : processes) {
            process.destroy();
            process.waitFor();
        }
    }

    @Test
    void aRestartedOrchestratorContinuesTheRunsItHad() throws Exception {
        port = freePort();
        startOrchestrator("first");

        String name = Harness.uniqueName("restart");
        harness.put("incoming/" + name + "/recipe.yaml", Harness.QUANTIZE_EVAL);
        // with a student, which the run's state must keep: the first stage starts from it after the restart too
        harness.put("incoming/" + name + "/student.onnx", Harness.COMPRESSED_SMALLER);
        String modelKey = "incoming/" + name + "/model.onnx";
        harness.put(modelKey, Harness.ORIGINAL);
        String runId = await().atMost(WAIT).until(() -> runFor(modelKey), Optional::isPresent).orElseThrow();
        StageRequest quantize = worker.next(runId);
        assertThat(quantize.input().key()).isEqualTo("runs/" + runId + "/input/student/student.onnx");
        assertThat(quantize.original().key()).isEqualTo("runs/" + runId + "/input/model.onnx");

        Process first = processes.get(0);
        first.destroyForcibly();
        first.waitFor();
        // the worker finishes while no orchestrator runs
        worker.succeed(quantize, Harness.COMPRESSED, null);

        startOrchestrator("second");
        RunState restored = run(runId);
        assertThat(restored.state()).isEqualTo(RunState.State.RUNNING);
        assertThat(restored.source()).isEqualTo(modelKey);
        assertThat(restored.student()).isEqualTo(quantize.input());

        // the stage was still QUEUED in the saved state: its request is published again, the same attempt (a worker
        // that did the work answers from its finished output); then the result that waited on the topic moves on
        assertThat(worker.next(runId)).isEqualTo(quantize);
        StageRequest eval = worker.next(runId);
        assertThat(eval.stageIndex()).isEqualTo(1);
        assertThat(eval.input().sha256()).isEqualTo(RunLifecycleTest.sha256(Harness.COMPRESSED));
        assertThat(eval.original()).isEqualTo(quantize.original());
        worker.succeedWithoutModel(eval, Json.MAPPER.readTree(Harness.EVAL_METRICS));

        await().atMost(WAIT).until(() -> run(runId).state() == RunState.State.SUCCEEDED);
        assertThat(harness.store.exists("outgoing/" + name + "/" + runId + "/report.json")).isTrue();
        // the poller of the second process knows the drop already has its run
        assertThat(runsFor(modelKey)).containsExactly(runId);
    }

    private void startOrchestrator(String label) throws IOException {
        Path jar = Path.of(System.getProperty("orchestrator.jar", "target/quarkus-app/quarkus-run.jar"));
        assertThat(jar).as("the packaged application; run 'mvn verify'").exists();
        Path log = Path.of("target", "restart-it-" + label + ".log");
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder builder = new ProcessBuilder(java, "-Xmx256m", "-jar", jar.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().putAll(Map.of(
                "QUARKUS_HTTP_PORT", Integer.toString(port),
                "KAFKA_BOOTSTRAP_SERVERS", harness.endpoints.kafkaBootstrapServers(),
                "MODELPRESS_S3_ENDPOINT", harness.endpoints.s3Endpoint(),
                "MODELPRESS_S3_ACCESS_KEY", harness.endpoints.s3AccessKey(),
                "MODELPRESS_S3_SECRET_KEY", harness.endpoints.s3SecretKey(),
                "MODELPRESS_S3_BUCKET", harness.endpoints.bucket(),
                "MODELPRESS_INTAKE_POLLER_INTERVAL", "1s"));
        Process process = builder.start();
        processes.add(process);
        await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).until(() -> {
            if (!process.isAlive()) {
                throw new AssertionError("the orchestrator exited with " + process.exitValue() + ":\n" + LogTail.of(log, 40));
            }
            return status("/q/health/ready") == 200;
        });
    }

    private Optional<String> runFor(String modelKey) throws Exception {
        return runsFor(modelKey).stream().findFirst();
    }

    private List<String> runsFor(String modelKey) throws Exception {
        RunState[] runs = Json.read(get("/api/runs").getBytes(StandardCharsets.UTF_8), RunState[].class);
        return Arrays.stream(runs).filter(r -> modelKey.equals(r.source())).map(RunState::runId).toList();
    }

    private RunState run(String runId) throws Exception {
        return Json.read(get("/api/runs/" + runId).getBytes(StandardCharsets.UTF_8), RunState.class);
    }

    private String get(String path) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(path + ": " + response.body()).isEqualTo(200);
        return response.body();
    }

    private int status(String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
