package io.modelpress.e2e;

import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.stack.ApiClient;
import io.modelpress.stack.Service;
import io.modelpress.stack.ServiceProcess;
import io.modelpress.stack.Stack;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The stack every end-to-end test shares: devstack on free ports, and the packaged orchestrator, quantize-worker,
 * eval-worker and prune-worker as processes started by the CLI's launcher, tied to this JVM (they exit with it, however it ends).
 * Tests that kill a service start a replacement before they end, so the next test finds the stack whole.
 */
final class E2eStack {
    /** Bound on anything a test waits for: generous, a failure shows long before. */
    static final Duration WAIT = Duration.ofMinutes(4);
    private static final AtomicInteger NAMES = new AtomicInteger();
    /** Every worker process's settings in these tests. */
    static final Map<String, String> WORKER_ENV = Map.of(
            // a killed worker's partitions move to its replacement once its session expires: keep that short
            "MP_MESSAGING_INCOMING_REQUESTS_SESSION_TIMEOUT_MS", "8000",
            "MODELPRESS_WORKER_THREADS", "1",
            "MODELPRESS_WORKER_PROGRESS_INTERVAL", "500ms",
            "MODELPRESS_WORKER_HEARTBEAT_INTERVAL", "1s",
            // every stage is computed: a fault test's slow stage must not be answered from an earlier run's result
            "MODELPRESS_WORKER_CACHE_MAX_BYTES", "0");
    /** The orchestrator's stall-after in these tests: fifteen of the workers' heartbeats, so a busy machine is no stall. */
    static final String STALL_AFTER = "15s";
    private static E2eStack shared;

    final Path projectRoot;
    final Endpoints endpoints;
    final Stack stack;
    final ArtifactStore store;
    final ApiClient api;

    private E2eStack() {
        projectRoot = Path.of(System.getProperty("modelpress.home", "..")).toAbsolutePath().normalize();
        for (Service service : Service.values()) {
            assertThat(service.jar(projectRoot)).as("the packaged " + service.id() + "; run ./mvnw verify from the project root, "
                    + "or package it first: ./mvnw -q -pl " + service.module() + " -am package -DskipTests").exists();
        }
        endpoints = DevStack.shared();
        Path directory = stackDirectory("e2e-stack");
        stack = Stack.tiedToThisJvm(projectRoot, directory)
                .withEnv(Service.QUANTIZE_WORKER, WORKER_ENV)
                .withEnv(Service.EVAL_WORKER, WORKER_ENV)
                .withEnv(Service.PRUNE_WORKER, WORKER_ENV)
                .withEnv(Service.ORCHESTRATOR, Map.of(
                        "MODELPRESS_INTAKE_POLLER_INTERVAL", "1s",
                        "MODELPRESS_RUN_RETRY_DELAY", "2s",
                        "MODELPRESS_STAGE_STALL_AFTER", STALL_AFTER,
                        // the orchestrator knows the contributed stage type too: it validates recipes, creates topics
                        Stages.PATH_VARIABLE, ContributedStageIT.testStageJar().toString()));
        stack.startServices(endpoints, new PrintWriter(new StringWriter()));
        store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(),
                endpoints.bucket()));
        api = stack.apiClient();
    }

    /**
     * A fresh directory for a stack's logs and pid files under target/, where the logs stay for a look after a failed
     * run and {@code mvn clean} removes them.
     */
    static Path stackDirectory(String name) {
        Path directory = Path.of("target", name).toAbsolutePath();
        try {
            if (Files.exists(directory)) {
                try (var files = Files.walk(directory)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
            return Files.createDirectories(directory);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static synchronized E2eStack shared() {
        if (shared == null) {
            shared = new E2eStack();
        }
        return shared;
    }

    /** A model name no other test uses. */
    static String uniqueName(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
    }

    ServiceProcess process(Service service) {
        return stack.find(service).orElseThrow(() -> new AssertionError(service.id() + " is not running"));
    }

    /** Starts a service that is not running (a replacement for a killed one) and waits until it is ready. */
    ServiceProcess startAndAwait(Service service) {
        ServiceProcess process = stack.start(service, endpoints);
        process.awaitReady(Stack.START_TIMEOUT);
        return process;
    }

    void put(String key, byte[] bytes) {
        store.putBytes(key, bytes, "application/octet-stream");
    }

    void put(String key, String text) {
        put(key, text.getBytes(StandardCharsets.UTF_8));
    }

    /** The runs whose source is the given object key (bucket drops), oldest first. */
    List<RunState> runsFor(String sourceKey) {
        return api.runs().stream().filter(r -> sourceKey.equals(r.source()))
                .sorted(java.util.Comparator.comparing(RunState::createdAt)).toList();
    }

    RunState awaitRunFor(String sourceKey) {
        return await().atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> runsFor(sourceKey).stream().findFirst(), Optional::isPresent).orElseThrow();
    }

    RunState awaitEnd(String runId) {
        return await().atMost(WAIT).pollInterval(Duration.ofMillis(500)).until(() -> api.run(runId), r -> r.state().terminal());
    }

    /** Waits until a stage of the run is being computed by a worker (it reported progress). */
    RunState awaitStageRunning(String runId, int stageIndex) {
        return await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(() -> api.run(runId), r -> {
            if (r.state().terminal()) {
                throw new AssertionError("run ended before stage " + stageIndex + " ran: " + r.state() + " " + r.error());
            }
            RunState.StageStatus stage = r.stages().size() > stageIndex ? r.stages().get(stageIndex) : null;
            return stage != null && stage.status() == RunState.StageStatusValue.RUNNING && stage.progress() > 0;
        });
    }

    /** Keys under a prefix, relative to it. */
    List<String> keysUnder(String prefix) {
        return store.list(prefix).stream().map(o -> o.key().substring(prefix.length())).toList();
    }

    /** An MLP x[N,in] -> y[N,out] as ONNX bytes (weights as initializers). */
    static byte[] mlp(int in, int hidden, int out, long seed) {
        return SmallModels.mlp(in, hidden, out, false, seed).toByteArray();
    }

    /** A small model: every stage on it takes a moment. */
    static byte[] smallModel(long seed) {
        return mlp(16, 64, 8, seed);
    }

    /**
     * A model and an eval recipe whose stage takes a while (many synthetic samples through a wider MLP): long enough
     * to kill a process in the middle of it. Progress is reported per batch, so "mid-stage" can be observed.
     */
    static byte[] slowModel(long seed) {
        return mlp(256, 1024, 256, seed);
    }

    static final String SLOW_EVAL_RECIPE = """
            name: slow-eval
            stages:
              - eval: { metrics: [latency, size], samples: 200000, batch: 8 }
            """;

    /** A real compression on the quantize-worker (dynamic INT8), judged by the eval-worker against the original. */
    static final String INT8_EVAL_RECIPE = """
            name: int8-eval
            stages:
              - quantize: { mode: dynamic }
              - eval: { metrics: [cosine, size], gate: { min_cosine: 0.99 } }
            """;

    static final String EVAL_RECIPE = """
            name: eval-only
            stages:
              - eval: { metrics: [latency, size] }
            """;

    /** The run's final stage results on the results topic, read until {@code count} are there. */
    List<StageResult> finalResults(String runId, int count) {
        Map<String, Object> config = Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafkaBootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "e2e-results-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<StageResult> found = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.STAGE_RESULTS));
            long deadline = System.nanoTime() + E2eStack.WAIT.toNanos();
            while (System.nanoTime() < deadline && found.size() < count) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    StageResult result = Json.read(record.value(), StageResult.class);
                    if (runId.equals(record.key()) && result.isFinal()) {
                        found.add(result);
                    }
                }
            }
        }
        assertThat(found).as("final results of " + runId + " on " + Topics.STAGE_RESULTS).hasSize(count);
        return found;
    }
}
