package io.modelpress.worker.eval;

import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Benchmark and process-level check, not a unit test: two eval-worker processes (the fast-jar, started the way a
 * launcher starts them) in one consumer group on a two-partition topic. Measures start-up to readiness and checks
 * that both replicas take work. Run after packaging:
 * {@code ./mvnw -pl eval-worker package -DskipTests && ./mvnw -pl eval-worker test -Dtest=ReplicasBench -Dmodelpress.bench=true};
 * writes {@code eval-worker/target/bench/replicas.txt}.
 */
@EnabledIfSystemProperty(named = "modelpress.bench", matches = "true")
class ReplicasBench {
    private static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    @Test
    void twoProcessesShareTheTopic() throws Exception {
        assumeTrue(Files.isRegularFile(JAR), "package the module first: " + JAR.toAbsolutePath());
        Endpoints endpoints = DevStack.shared();
        Topic.create(endpoints.kafkaBootstrapServers(), Topics.stage("eval"), 2);
        List<String> lines = new ArrayList<>();
        List<Process> processes = new ArrayList<>();
        List<Integer> ports = new ArrayList<>();
        try {
            for (int i = 1; i <= 2; i++) {
                int port = freePort();
                ports.add(port);
                ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx256m", "-Dai.djl.offline=true", "-jar", JAR.toString());
                Map<String, String> env = builder.environment();
                env.put("KAFKA_BOOTSTRAP_SERVERS", endpoints.kafkaBootstrapServers());
                env.put("MODELPRESS_S3_ENDPOINT", endpoints.s3Endpoint());
                env.put("MODELPRESS_S3_ACCESS_KEY", endpoints.s3AccessKey());
                env.put("MODELPRESS_S3_SECRET_KEY", endpoints.s3SecretKey());
                env.put("MODELPRESS_S3_BUCKET", endpoints.bucket());
                env.put("MODELPRESS_WORKER_ID", "replica-" + i);
                env.put("MODELPRESS_WORKER_THREADS", "1");
                env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
                Path log = Path.of("target/bench/replica-" + i + ".log");
                Files.createDirectories(log.getParent());
                builder.redirectErrorStream(true).redirectOutput(log.toFile());
                long started = System.nanoTime();
                Process process = builder.start();
                processes.add(process);
                awaitReady(process, port);
                lines.add(String.format("replica-%d: ready (GET /q/health/ready = 200) %d ms after the process started",
                        i, (System.nanoTime() - started) / 1_000_000));
            }
            awaitTwoMembersWithOnePartitionEach(endpoints);

            Map<String, Object> params = RecipeParser.parse("stages:\n  - eval: { metrics: [cosine], samples: 8, batch: 4 }\n", "bench").stages().get(0).params();
            List<String> runs = new ArrayList<>();
            try (ArtifactStore store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(),
                    endpoints.s3SecretKey(), endpoints.bucket()))) {
                for (int i = 0; i < 8; i++) {
                    String runId = StageRequests.newRunId();
                    ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
                    Topic.send(endpoints.kafkaBootstrapServers(), Topics.stage("eval"), runId,
                            Json.write(StageRequests.request(runId, "eval", input, params)));
                    runs.add(runId);
                }
            }
            Set<String> workers = new HashSet<>();
            for (String runId : runs) {
                List<StageResult> finals = Topic.read(endpoints.kafkaBootstrapServers(), Topics.STAGE_RESULTS, runId,
                                records -> records.stream().anyMatch(r -> Json.read(r.value(), StageResult.class).isFinal()), Duration.ofSeconds(120))
                        .stream().map(r -> Json.read(r.value(), StageResult.class)).filter(StageResult::isFinal).toList();
                assertThat(finals).as("final results of " + runId).singleElement()
                        .satisfies(r -> assertThat(r.status()).isEqualTo(StageResult.Status.SUCCEEDED));
                workers.add(finals.get(0).workerId());
                lines.add(runId + ": " + finals.get(0).workerId() + ", timings " + finals.get(0).timings());
            }
            assertThat(workers).containsExactlyInAnyOrder("replica-1", "replica-2");
            for (int port : ports) {
                assertThat(get(port, "/q/metrics")).contains("modelpress_stage_duration_seconds_count{outcome=\"succeeded\",stage=\"eval\"}");
            }
        } finally {
            for (Process process : processes) {
                process.destroy();
            }
            for (Process process : processes) {
                long t = System.nanoTime();
                process.waitFor();
                lines.add("stopped (SIGTERM) in " + (System.nanoTime() - t) / 1_000_000 + " ms, exit code " + process.exitValue());
            }
            Files.write(Path.of("target/bench/replicas.txt"), lines);
            lines.forEach(System.out::println);
        }
    }

    private void awaitReady(Process process, int port) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            assertThat(process.isAlive()).as("worker process alive (see target/bench/replica-*.log)").isTrue();
            try {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
            Thread.sleep(50);
        }
        throw new AssertionError("worker on port " + port + " not ready within 120 s");
    }

    private static void awaitTwoMembersWithOnePartitionEach(Endpoints endpoints) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafkaBootstrapServers()))) {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline) {
                ConsumerGroupDescription group = admin.describeConsumerGroups(List.of("modelpress-eval-worker"))
                        .describedGroups().get("modelpress-eval-worker").get();
                if (group.members().size() == 2
                        && group.members().stream().map(MemberDescription::assignment).allMatch(a -> a.topicPartitions().size() == 1)) {
                    return;
                }
                Thread.sleep(200);
            }
            throw new AssertionError("the two replicas did not get one partition each within 60 s");
        }
    }

    private String get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
