package io.modelpress.orchestrator;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.kafka.StageRecords;
import io.modelpress.pipeline.store.ArtifactStore;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Plays the stage workers over real Kafka: reads every StageRequest (and dead letter) from the stage topics, keeps
 * them per run, and answers with StageResults the test chooses; model outputs are written to the real S3 store under
 * the request's output prefix, as a worker would.
 */
final class TestWorker implements AutoCloseable {
    static final Duration WAIT = Duration.ofSeconds(60);

    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final ArtifactStore store;
    private final Map<String, BlockingQueue<StageRequest>> requests = new ConcurrentHashMap<>();
    private final Map<String, BlockingQueue<DeadLetter>> deadLetters = new ConcurrentHashMap<>();

    /** A request found on a dead-letter topic, with the reason from its header. */
    record DeadLetter(String topic, StageRequest request, String reason) {
    }
    private final Thread poller;
    private volatile boolean running = true;

    TestWorker(String bootstrapServers, ArtifactStore store) {
        this.store = store;
        consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, "test-worker-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.METADATA_MAX_AGE_CONFIG, 1000,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName()));
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()));
        consumer.subscribe(Pattern.compile("modelpress\\.stage\\.[a-z]+(\\.dlq)?"));
        poller = new Thread(this::pollLoop, "test-worker");
        poller.setDaemon(true);
        poller.start();
    }

    private void pollLoop() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.topic().endsWith(".dlq")) {
                        var reason = record.headers().lastHeader(StageRecords.DEAD_LETTER_REASON);
                        DeadLetter letter = new DeadLetter(record.topic(), Json.read(record.value(), StageRequest.class),
                                reason == null ? null : new String(reason.value(), StandardCharsets.UTF_8));
                        deadLetters.computeIfAbsent(record.key(), k -> new LinkedBlockingQueue<>()).add(letter);
                    } else {
                        StageRequest request = Json.read(record.value(), StageRequest.class);
                        assertThat(record.topic()).isEqualTo(Topics.stage(request.stageType()));
                        assertThat(record.key()).isEqualTo(request.runId());
                        requests.computeIfAbsent(request.runId(), k -> new LinkedBlockingQueue<>()).add(request);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    /** The next request of a run, waiting for it. */
    StageRequest next(String runId) {
        try {
            StageRequest request = queue(runId).poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (request == null) {
                throw new AssertionError("no stage request for " + runId + " within " + WAIT);
            }
            return request;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Asserts that a run gets no request for a while (a negative check: the time is a bound, not a speed). */
    void assertNoRequest(String runId, Duration during) throws InterruptedException {
        StageRequest request = queue(runId).poll(during.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(request).as("unexpected request for " + runId).isNull();
    }

    DeadLetter nextDeadLetter(String runId) throws InterruptedException {
        DeadLetter letter = deadLetters.computeIfAbsent(runId, k -> new LinkedBlockingQueue<>())
                .poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(letter).as("dead letter for " + runId).isNotNull();
        return letter;
    }

    private BlockingQueue<StageRequest> queue(String runId) {
        return requests.computeIfAbsent(runId, k -> new LinkedBlockingQueue<>());
    }

    void progress(StageRequest request, double progress, String message) {
        send(result(request, StageResult.Status.PROGRESS, progress, message, null, null, null));
    }

    /** Writes {@code model} as the stage's output and reports success. */
    ArtifactRef succeed(StageRequest request, byte[] model, JsonNode metrics) {
        ArtifactRef output = store.putBytes(request.outputPrefix() + "model.onnx", model, "application/octet-stream");
        send(result(request, StageResult.Status.SUCCEEDED, 1, "done", output, metrics, null));
        return output;
    }

    /** Success of a stage that produces no model (evaluation). */
    void succeedWithoutModel(StageRequest request, JsonNode metrics) {
        send(result(request, StageResult.Status.SUCCEEDED, 1, "done", null, metrics, null));
    }

    void fail(StageRequest request, ErrorCode code, String message, boolean retryable) {
        fail(request, code, message, retryable, null);
    }

    /** A failure with the stage's report, as a failed quality gate comes. */
    void fail(StageRequest request, ErrorCode code, String message, boolean retryable, JsonNode metrics) {
        send(result(request, StageResult.Status.FAILED, 0, message, null, metrics,
                new StageResult.Error(code.name(), message, retryable)));
    }

    void send(StageResult result) {
        try {
            producer.send(new ProducerRecord<>(Topics.STAGE_RESULTS, result.runId(), Json.write(result))).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot publish a stage result", e);
        }
    }

    /** Publishes a raw message, e.g. a bucket notification. */
    void publish(String topic, String key, byte[] value) {
        try {
            producer.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot publish to " + topic, e);
        }
    }

    private static StageResult result(StageRequest request, StageResult.Status status, double progress, String message,
                                      ArtifactRef output, JsonNode metrics, StageResult.Error error) {
        return new StageResult(request.runId(), request.stageIndex(), request.attempt(), request.stageType(), status,
                progress, message, output, metrics, error, "test-worker", new StageResult.Timings(1, 2, 3), Instant.now());
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            poller.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close();
    }
}
