package io.modelpress.pipeline.worker;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.kafka.KafkaPublisher;
import io.modelpress.pipeline.metrics.MetricNames;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.pipeline.store.StoredObject;
import io.modelpress.pipeline.testing.CountingStage;
import io.modelpress.pipeline.testing.DocStringStage;
import io.modelpress.pipeline.testing.StageRequests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The workers' shared result cache on the real S3 server: a second run's identical stage is answered from the cache
 * without running the stage, a changed parameter or {@code noCache} computes, and the cache stays within its bound.
 */
class ResultCacheTest {
    private static Endpoints endpoints;
    private static ArtifactStore store;
    private static KafkaPublisher publisher;

    @TempDir
    Path dir;
    @TempDir
    Path temp;

    @BeforeAll
    static void start() {
        endpoints = DevStack.shared();
        store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(), endpoints.bucket()));
        store.ensureBucket();
        publisher = new KafkaPublisher(endpoints.kafkaBootstrapServers(), "/modelpress/test", Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        publisher.close();
        store.close();
    }

    private StageWorker worker(CountingStage stage, PrometheusMeterRegistry registry, long cacheBytes) {
        WorkerSettings settings = new WorkerSettings("cache-worker", Set.of("quantize"), 1,
                new Retry(3, Duration.ofMillis(10), Duration.ofMillis(40)), Duration.ofSeconds(1),
                WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL, temp).withCache(cacheBytes);
        return new StageWorker(store, publisher, publisher, new StageMetrics(registry), settings, type -> stage);
    }

    private static StageRequest request(String runId, ArtifactRef input, String note, boolean noCache) {
        return new StageRequest(runId, 0, 1, "quantize", Map.of("note", note), input, input, List.of(), null,
                Instant.now().plus(Duration.ofHours(1)), noCache);
    }

    @Test
    void anIdenticalStageOfAnotherRunComesFromTheCacheAndAChangedOneIsComputed() throws Exception {
        CountingStage stage = new CountingStage(new DocStringStage());
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        StageWorker worker = worker(stage, registry, 10L << 30);
        // one model uploaded under two runs: same bytes, same SHA-256
        String first = StageRequests.newRunId();
        String second = StageRequests.newRunId();
        String note = "cached-" + first; // unique per test run: no entry of an earlier run of this test can answer
        ArtifactRef input1 = StageRequests.uploadSmallModel(store, first, dir);
        ArtifactRef input2 = store.copy(input1.key(), "runs/" + second + "/input/model.onnx");

        StageResult computed = worker.handle(request(first, input1, note, false));
        assertThat(stage.runs()).isEqualTo(1);
        assertThat(computed.metrics().get("cache").asText()).isEqualTo("stored");

        StageResult reused = worker.handle(request(second, input2, note, false));
        assertThat(stage.runs()).as("answered from the cache, not run").isEqualTo(1);
        assertThat(reused.status()).isEqualTo(StageResult.Status.SUCCEEDED);
        assertThat(reused.metrics().get("cache").asText()).isEqualTo("hit");
        assertThat(reused.message()).isEqualTo("quantize answered from the result cache");
        assertThat(reused.metrics().get("note").asText()).isEqualTo(note);
        assertThat(reused.output().key()).isEqualTo("runs/" + second + "/01-quantize-a1/model.onnx");
        assertThat(reused.output().sha256()).isEqualTo(computed.output().sha256());
        assertThat(OnnxModel.read(store.get(reused.output(), dir.resolve("reused.onnx"))).graph().getDocString()).isEqualTo(note);
        assertThat(store.getJson("runs/" + second + "/01-quantize-a1/" + StageWorker.STAGE_JSON, StageResult.class)).contains(reused);
        assertThat(registry.scrape()).contains(MetricNames.STAGE_CACHE);

        // another parameter, or a recipe with cache: false, computes
        worker.handle(request(StageRequests.newRunId(), input1, note + "-changed", false));
        assertThat(stage.runs()).isEqualTo(2);
        StageResult uncached = worker.handle(request(StageRequests.newRunId(), input1, note, true));
        assertThat(stage.runs()).isEqualTo(3);
        assertThat(uncached.metrics().has("cache")).isFalse();
    }

    @Test
    void theCacheKeepsWithinItsBoundByDroppingTheLeastRecentlyUsed() throws Exception {
        String runId = StageRequests.newRunId();
        ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
        CountingStage stage = new CountingStage(new DocStringStage());
        // room for about one entry (the model plus its entry file) beyond what the cache holds already
        long existing = store.list(ResultCache.PREFIX).stream().mapToLong(StoredObject::bytes).sum();
        StageWorker worker = worker(stage, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), existing + input.bytes() + 4096);
        String note = "bounded-" + runId;
        worker.handle(request(runId, input, note + "-1", false));
        worker.handle(request(runId + "b", input, note + "-2", false));
        long total = store.list(ResultCache.PREFIX).stream().mapToLong(StoredObject::bytes).sum();
        assertThat(total).isLessThanOrEqualTo(existing + input.bytes() + 4096);

        // the newest entry is kept: its stage is answered from the cache
        worker.handle(request(runId + "c", input, note + "-2", false));
        assertThat(stage.runs()).isEqualTo(2);
    }
}
