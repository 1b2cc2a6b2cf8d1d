package io.modelpress.pipeline.kafka;

import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageResult;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The Kafka records a stage worker writes, independent of the client that sends them: topic, key, CloudEvents
 * headers and JSON body. Both bindings ({@link KafkaPublisher} for plain Java, {@link EmitterPublisher} for
 * SmallRye Reactive Messaging) send exactly these.
 */
public final class StageRecords {
    /** Header with the reason a request was dead-lettered (the name SmallRye's own dead-letter queue uses). */
    public static final String DEAD_LETTER_REASON = "dead-letter-reason";
    /** Header naming the topic the dead-lettered request came from. */
    public static final String DEAD_LETTER_TOPIC = "dead-letter-topic";

    private StageRecords() {
    }

    /** One outgoing record. */
    public record Outgoing(String topic, String key, Map<String, byte[]> headers, byte[] value) {
    }

    /**
     * @param source the CloudEvents source: who sent it, e.g. {@code /modelpress/quantize-worker/<worker id>}
     */
    public static Outgoing result(StageResult result, String source) {
        String type = result.isFinal() ? CloudEvents.STAGE_RESULT : CloudEvents.STAGE_PROGRESS;
        return new Outgoing(Topics.STAGE_RESULTS, result.runId(), CloudEvents.headers(type, source), Json.write(result));
    }

    public static Outgoing deadLetter(String stageType, String key, byte[] request, String reason, String source) {
        Map<String, byte[]> headers = CloudEvents.headers(CloudEvents.STAGE_REQUEST, source);
        headers.put(DEAD_LETTER_REASON, reason.getBytes(StandardCharsets.UTF_8));
        headers.put(DEAD_LETTER_TOPIC, Topics.stage(stageType).getBytes(StandardCharsets.UTF_8));
        return new Outgoing(Topics.deadLetters(stageType), key, headers, request);
    }
}
