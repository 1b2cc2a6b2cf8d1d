package io.modelpress.bench;

import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageResult;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** Every event on the stage-results topic, by run, read on a thread of its own from the topic's beginning. */
final class StageEvents implements AutoCloseable {
    private final Map<String, List<StageResult>> byRun = new ConcurrentHashMap<>();
    private final Thread reader;
    private volatile boolean closed;

    StageEvents(String bootstrapServers) {
        reader = new Thread(() -> read(bootstrapServers), "stage-events");
        reader.setDaemon(true);
        reader.start();
    }

    private void read(String bootstrapServers) {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false"), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            consumer.partitionsFor(Topics.STAGE_RESULTS, Duration.ofMinutes(1))
                    .forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (!closed) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    StageResult result = Json.read(record.value(), StageResult.class);
                    byRun.computeIfAbsent(result.runId(), id -> new CopyOnWriteArrayList<>()).add(result);
                }
            }
        }
    }

    /** The events of one attempt, oldest first, waiting briefly for the reader to catch up with the final one. */
    List<StageResult> of(String runId, int stageIndex, int attempt) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            List<StageResult> events = byRun.getOrDefault(runId, List.of()).stream()
                    .filter(r -> r.stageIndex() == stageIndex && r.attempt() == attempt)
                    .sorted(Comparator.comparing(StageResult::time)).toList();
            if (events.stream().anyMatch(StageResult::isFinal) || System.nanoTime() > deadline) {
                return events;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return events;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
