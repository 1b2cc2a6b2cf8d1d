package io.modelpress.orchestrator;

import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.smallrye.common.annotation.Identifier;
import io.smallrye.reactive.messaging.MutinyEmitter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The durable record of runs: every state change is written to the compacted topic {@link Topics#RUNS} (key = run
 * id, value = the whole RunState), and at start-up the topic is read from the beginning to its end to rebuild the
 * in-memory state. Compaction keeps the latest state per run, so the read-back stays proportional to the number of
 * runs, not to their history.
 */
@ApplicationScoped
public class RunLog {
    private static final Logger LOG = Logger.getLogger(RunLog.class);

    @Inject
    @Channel("runs")
    MutinyEmitter<byte[]> emitter;

    @Inject
    @Identifier("default-kafka-broker")
    Map<String, Object> kafkaConfig;

    /** Writes a run's state and waits until the broker has it (acks=all), so a state is never acted on before it is durable. */
    void append(RunState run) {
        emitter.sendMessageAndAwait(KafkaMessages.message(null, run.runId(), Json.write(run), CloudEvents.RUN_STATE));
    }

    /** Every run's latest state, read from the beginning of the topic to the end offsets taken when reading starts. */
    Collection<RunState> readAll(Duration timeout) {
        Map<String, Object> config = new HashMap<>(kafkaConfig);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, "modelpress-orchestrator-restore");
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        Map<String, RunState> runs = new LinkedHashMap<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config)) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.RUNS, timeout).stream()
                    .map((PartitionInfo p) -> new TopicPartition(p.topic(), p.partition()))
                    .toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            int records = 0;
            while (!caughtUp(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading the runs topic " + Topics.RUNS + " did not reach its end within " + timeout);
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    records++;
                    if (record.value() == null) {
                        runs.remove(record.key());
                        continue;
                    }
                    try {
                        runs.put(record.key(), Json.read(record.value(), RunState.class));
                    } catch (RuntimeException e) {
                        LOG.errorf("Skipping an unreadable run state at %s-%d offset %d: %s", record.topic(),
                                record.partition(), record.offset(), e.getMessage());
                    }
                }
            }
            LOG.infof("Read %d runs from %d records of %s", runs.size(), records, Topics.RUNS);
        }
        return runs.values();
    }

    private static boolean caughtUp(KafkaConsumer<String, byte[]> consumer, Map<TopicPartition, Long> end) {
        return end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue());
    }
}
