package io.modelpress.pipeline.worker;

import io.modelpress.core.ReferenceModels;
import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.kafka.KafkaPublisher;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.core.Sha256;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.modelpress.pipeline.testing.DocStringStage;
import io.modelpress.pipeline.testing.StageRequests;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Benchmark, not a test: the hand-off cost of one stage on all-MiniLM-L6-v2 (90 MB) through devstack's S3 server:
 * download + verify of the input, upload of the output. Run with
 * {@code ./mvnw -pl pipeline verify -Dtest=HandoffBench -Dmodelpress.bench=true}; writes
 * {@code pipeline/target/bench/handoff.txt}.
 */
@EnabledIfSystemProperty(named = "modelpress.bench", matches = "true")
class HandoffBench {
    private static final int ROUNDS = 5;

    @TempDir
    Path temp;

    @Test
    void minilmHandoff() throws Exception {
        Endpoints endpoints = DevStack.shared();
        Path model = ReferenceModels.minilm();
        List<String> lines = new ArrayList<>();
        lines.add("all-MiniLM-L6-v2, " + Files.size(model) + " bytes; devstack S3Proxy on loopback; 16 MiB parts");
        lines.add("round  download_ms  run_ms  upload_ms  (stage: read model, set doc string, write model)");
        try (ArtifactStore store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(),
                endpoints.s3SecretKey(), endpoints.bucket()));
             KafkaPublisher publisher = new KafkaPublisher(endpoints.kafkaBootstrapServers(), "/modelpress/bench", Duration.ofSeconds(30));
             StageMetrics metrics = StageMetrics.inMemory()) {
            WorkerSettings settings = new WorkerSettings("bench", java.util.Set.of("quantize"), 1, Retry.DEFAULT, Duration.ofSeconds(1), WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL, temp);
            StageWorker worker = new StageWorker(store, publisher, publisher, metrics, settings, type -> new DocStringStage());
            for (int round = 1; round <= ROUNDS; round++) {
                String runId = StageRequests.newRunId();
                ArtifactRef input = store.put("runs/" + runId + "/input/model.onnx", model);
                StageResult result = worker.handle(StageRequests.request(runId, "quantize", input, Map.of()));
                assertThat(result.status()).isEqualTo(StageResult.Status.SUCCEEDED);
                assertThat(result.output().bytes()).isGreaterThan(80_000_000L);
                lines.add(String.format("%5d  %11d  %6d  %9d", round, result.timings().downloadMs(), result.timings().runMs(),
                        result.timings().uploadMs()));
            }
        }
        lines.add("");
        long partSize = Long.getLong("modelpress.bench.part-mib", S3Settings.DEFAULT_PART_SIZE >> 20) << 20;
        S3Settings defaults = S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(), endpoints.s3SecretKey(), endpoints.bucket());
        S3Settings settings = new S3Settings(defaults.endpoint(), defaults.accessKey(), defaults.secretKey(), defaults.bucket(),
                defaults.region(), partSize, defaults.connectTimeout(), defaults.ioTimeout());
        lines.add("round  store.put_ms  plain_sdk_put_ms  sha256_pass_ms  store.get_ms  (same file, " + (partSize >> 20) + " MiB parts)");
        try (ArtifactStore store = new ArtifactStore(settings);
             MinioClient plain = MinioClient.builder().endpoint(endpoints.s3Endpoint())
                     .credentials(endpoints.s3AccessKey(), endpoints.s3SecretKey()).region("us-east-1").build()) {
            for (int round = 1; round <= ROUNDS; round++) {
                long t0 = System.nanoTime();
                ArtifactRef ref = store.put("bench/store-put.onnx", model);
                long t1 = System.nanoTime();
                try (InputStream in = Files.newInputStream(model)) {
                    plain.putObject(PutObjectArgs.builder().bucket(endpoints.bucket()).object("bench/plain-put.onnx")
                            .stream(in, Files.size(model), partSize).build());
                }
                long t2 = System.nanoTime();
                Sha256.of(model);
                long t3 = System.nanoTime();
                store.get(ref, temp.resolve("back.onnx"));
                long t4 = System.nanoTime();
                lines.add(String.format("%5d  %12d  %16d  %14d  %12d", round, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000,
                        (t3 - t2) / 1_000_000, (t4 - t3) / 1_000_000));
            }
        }
        Path out = Path.of("target/bench/handoff.txt");
        Files.createDirectories(out.getParent());
        Files.write(out, lines);
        lines.forEach(System.out::println);
    }
}
