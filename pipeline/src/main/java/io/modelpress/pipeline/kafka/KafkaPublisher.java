package io.modelpress.pipeline.kafka;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.worker.DeadLetterPublisher;
import io.modelpress.pipeline.worker.ResultPublisher;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Publishes with a plain Kafka producer: for code that runs without SmallRye (CLI, benchmarks, tests). */
public final class KafkaPublisher implements ResultPublisher, DeadLetterPublisher, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(KafkaPublisher.class.getName());

    private final KafkaProducer<String, byte[]> producer;
    private final String source;
    private final Duration sendTimeout;

    /**
     * @param bootstrapServers Kafka bootstrap servers
     * @param source           CloudEvents source of everything sent
     * @param sendTimeout      how long a final result may take to be acknowledged before the send counts as failed
     */
    public KafkaPublisher(String bootstrapServers, String source, Duration sendTimeout) {
        Properties properties = new Properties();
        properties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        properties.put(ProducerConfig.ACKS_CONFIG, "all");
        properties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        properties.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) sendTimeout.toMillis());
        properties.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.min(sendTimeout.toMillis(), 30_000));
        properties.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        properties.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, sendTimeout.toMillis());
        this.producer = new KafkaProducer<>(properties, new StringSerializer(), new ByteArraySerializer());
        this.source = source;
        this.sendTimeout = sendTimeout;
    }

    @Override
    public void publish(StageResult result) {
        sendAndWait(StageRecords.result(result, source));
    }

    @Override
    public void publishProgress(StageResult progress) {
        try {
            producer.send(record(StageRecords.result(progress, source)), (metadata, failure) -> {
                if (failure != null) {
                    LOG.log(System.Logger.Level.DEBUG, "progress event for run {0} not delivered: {1}", progress.runId(), failure.toString());
                }
            });
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "progress event for run {0} not sent: {1}", progress.runId(), e.toString());
        }
    }

    @Override
    public void publish(String stageType, String key, byte[] request, String reason) {
        sendAndWait(StageRecords.deadLetter(stageType, key, request, reason, source));
    }

    private void sendAndWait(StageRecords.Outgoing outgoing) {
        try {
            producer.send(record(outgoing)).get(sendTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failure(outgoing, "interrupted", e);
        } catch (ExecutionException e) {
            throw failure(outgoing, e.getCause().toString(), e.getCause());
        } catch (TimeoutException e) {
            throw failure(outgoing, "not acknowledged within " + sendTimeout.toSeconds() + " s", e);
        } catch (RuntimeException e) {
            throw failure(outgoing, e.toString(), e);
        }
    }

    private static ProducerRecord<String, byte[]> record(StageRecords.Outgoing outgoing) {
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(outgoing.topic(), outgoing.key(), outgoing.value());
        for (Map.Entry<String, byte[]> header : outgoing.headers().entrySet()) {
            record.headers().add(new RecordHeader(header.getKey(), header.getValue()));
        }
        return record;
    }

    private static ModelPressException failure(StageRecords.Outgoing outgoing, String why, Throwable cause) {
        return new ModelPressException(ErrorCode.IO_ERROR, "topic " + outgoing.topic(), "cannot publish for key " + outgoing.key() + ": " + why, cause);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
