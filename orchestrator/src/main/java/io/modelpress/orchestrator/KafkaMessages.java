package io.modelpress.orchestrator;

import io.modelpress.pipeline.events.CloudEvents;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.eclipse.microprofile.reactive.messaging.Message;

/** Outgoing Kafka messages as every ModelPress topic carries them: a key, a JSON body and CloudEvents headers. */
final class KafkaMessages {
    /** The ce_source of everything the orchestrator publishes. */
    static final String SOURCE = "/modelpress/orchestrator";

    private KafkaMessages() {
    }

    /** @param topic the topic, or null for the channel's configured one */
    static Message<byte[]> message(String topic, String key, byte[] json, String cloudEventType) {
        RecordHeaders headers = new RecordHeaders();
        CloudEvents.headers(cloudEventType, SOURCE).forEach(headers::add);
        OutgoingKafkaRecordMetadata.OutgoingKafkaRecordMetadataBuilder<String> metadata = OutgoingKafkaRecordMetadata.<String>builder()
                .withKey(key)
                .withHeaders(headers);
        if (topic != null) {
            metadata.withTopic(topic);
        }
        return Message.of(json).addMetadata(metadata.build());
    }
}
