package io.modelpress.pipeline.worker;

import io.modelpress.devstack.DevStack;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.kafka.KafkaPublisher;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;
import io.modelpress.pipeline.testing.DocStringStage;
import io.modelpress.pipeline.testing.StageRequests;
import io.modelpress.pipeline.testing.Topic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two runtime instances in one consumer group on a two-partition stage topic: Kafka gives each a partition and
 * both do work, which is how worker replicas scale. (The Quarkus services use the same group per service.)
 */
class SharedConsumerGroupTest {
    @TempDir
    Path dir;

    @Test
    void twoWorkersInOneGroupShareThePartitions() throws Exception {
        Endpoints endpoints = DevStack.shared();
        String type = "spread" + UUID.randomUUID().toString().substring(0, 8);
        String topic = Topics.stage(type);
        Topic.create(endpoints.kafkaBootstrapServers(), topic, 2);
        String group = "modelpress-" + type + "-worker";

        AtomicBoolean stop = new AtomicBoolean();
        Map<String, Set<TopicPartition>> assignments = new ConcurrentHashMap<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> loops = new ArrayList<>();
        try (ArtifactStore store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(),
                endpoints.s3SecretKey(), endpoints.bucket()));
             KafkaPublisher publisher = new KafkaPublisher(endpoints.kafkaBootstrapServers(), "/modelpress/test", Duration.ofSeconds(30));
             StageMetrics metrics = StageMetrics.inMemory()) {
            for (String workerId : List.of("worker-a", "worker-b")) {
                WorkerSettings settings = new WorkerSettings(workerId, Set.of(type), 1, Retry.DEFAULT, Duration.ofSeconds(1),
                        WorkerSettings.DEFAULT_HEARTBEAT_INTERVAL, dir.resolve(workerId));
                StageWorker worker = new StageWorker(store, publisher, publisher, metrics, settings, t -> new DocStringStage());
                Thread loop = new Thread(() -> consume(endpoints, topic, group, type, worker, workerId, assignments, stop, failures), workerId);
                loop.start();
                loops.add(loop);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!(assignments.getOrDefault("worker-a", Set.of()).size() == 1 && assignments.getOrDefault("worker-b", Set.of()).size() == 1)
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(assignments.get("worker-a")).hasSize(1).doesNotContainAnyElementsOf(assignments.get("worker-b"));

            List<String> runs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String runId = StageRequests.newRunId();
                ArtifactRef input = StageRequests.uploadSmallModel(store, runId, dir);
                Topic.send(endpoints.kafkaBootstrapServers(), topic, runId, Json.write(StageRequests.request(runId, type, input, Map.of())));
                runs.add(runId);
            }

            Set<String> workers = new HashSet<>();
            Set<Integer> partitions = new HashSet<>();
            for (String runId : runs) {
                List<StageResult> finals = Topic.read(endpoints.kafkaBootstrapServers(), Topics.STAGE_RESULTS, runId,
                                records -> records.stream().anyMatch(r -> Json.read(r.value(), StageResult.class).isFinal()), Duration.ofSeconds(60))
                        .stream().map(r -> Json.read(r.value(), StageResult.class)).filter(StageResult::isFinal).toList();
                assertThat(finals).as("final results of " + runId).singleElement()
                        .satisfies(r -> assertThat(r.status()).isEqualTo(StageResult.Status.SUCCEEDED));
                workers.add(finals.get(0).workerId());
                partitions.add(partitionOf(runId));
            }
            assertThat(partitions).as("the 8 run ids hash to both partitions").hasSize(2);
            assertThat(workers).containsExactlyInAnyOrder("worker-a", "worker-b");
        } finally {
            stop.set(true);
            for (Thread loop : loops) {
                loop.join(30_000);
            }
        }
        assertThat(failures).isEmpty();
    }

    private static int partitionOf(String key) {
        return org.apache.kafka.common.utils.Utils.toPositive(org.apache.kafka.common.utils.Utils.murmur2(key.getBytes(java.nio.charset.StandardCharsets.UTF_8))) % 2;
    }

    /** A minimal consumer loop: one record at a time, committed after it was handled. */
    private static void consume(Endpoints endpoints, String topic, String group, String type, StageWorker worker, String workerId,
                                Map<String, Set<TopicPartition>> assignments, AtomicBoolean stop, List<Throwable> failures) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafkaBootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            while (!stop.get()) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                    worker.handle(type, record.key(), record.value());
                    consumer.commitSync();
                }
                assignments.put(workerId, Set.copyOf(consumer.assignment()));
            }
        } catch (Throwable t) {
            failures.add(t);
        }
    }
}
