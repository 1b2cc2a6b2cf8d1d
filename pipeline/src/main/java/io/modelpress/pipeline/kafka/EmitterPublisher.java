package io.modelpress.pipeline.kafka;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.worker.DeadLetterPublisher;
import io.modelpress.pipeline.worker.ResultPublisher;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.eclipse.microprofile.reactive.messaging.Message;

import java.time.Duration;
import java.util.Map;

/**
 * Publishes through SmallRye Reactive Messaging emitters, so a Quarkus service's producers are configured like any
 * other channel (mp.messaging.outgoing.*). The record's topic, key and headers are set per message, so one emitter
 * can serve every dead-letter topic.
 */
public final class EmitterPublisher implements ResultPublisher, DeadLetterPublisher {
    private static final System.Logger LOG = System.getLogger(EmitterPublisher.class.getName());

    private final MutinyEmitter<byte[]> results;
    private final MutinyEmitter<byte[]> deadLetters;
    private final String source;
    private final Duration sendTimeout;

    public EmitterPublisher(MutinyEmitter<byte[]> results, MutinyEmitter<byte[]> deadLetters, String source, Duration sendTimeout) {
        this.results = results;
        this.deadLetters = deadLetters;
        this.source = source;
        this.sendTimeout = sendTimeout;
    }

    @Override
    public void publish(StageResult result) {
        sendAndWait(results, StageRecords.result(result, source));
    }

    @Override
    public void publishProgress(StageResult progress) {
        StageRecords.Outgoing outgoing = StageRecords.result(progress, source);
        try {
            results.sendMessage(message(outgoing)).subscribe().with(
                    done -> {
                    },
                    failure -> LOG.log(System.Logger.Level.DEBUG, "progress event for run {0} not delivered: {1}",
                            progress.runId(), failure.toString()));
        } catch (RuntimeException e) {
            // e.g. the emitter's buffer is full because the broker is unreachable: progress is expendable
            LOG.log(System.Logger.Level.DEBUG, "progress event for run {0} not sent: {1}", progress.runId(), e.toString());
        }
    }

    @Override
    public void publish(String stageType, String key, byte[] request, String reason) {
        sendAndWait(deadLetters, StageRecords.deadLetter(stageType, key, request, reason, source));
    }

    private void sendAndWait(MutinyEmitter<byte[]> emitter, StageRecords.Outgoing outgoing) {
        try {
            emitter.sendMessage(message(outgoing)).await().atMost(sendTimeout);
        } catch (RuntimeException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, "topic " + outgoing.topic(),
                    "cannot publish for key " + outgoing.key() + ": " + e, e);
        }
    }

    private static Message<byte[]> message(StageRecords.Outgoing outgoing) {
        RecordHeaders headers = new RecordHeaders();
        for (Map.Entry<String, byte[]> header : outgoing.headers().entrySet()) {
            headers.add(header.getKey(), header.getValue());
        }
        return Message.of(outgoing.value()).addMetadata(OutgoingKafkaRecordMetadata.<String>builder()
                .withTopic(outgoing.topic())
                .withKey(outgoing.key())
                .withHeaders(headers)
                .build());
    }
}
