package io.modelpress.orchestrator;

import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.kafka.EmitterPublisher;
import io.smallrye.reactive.messaging.MutinyEmitter;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Channel;

import java.time.Duration;

/**
 * Publishes stage requests to {@code modelpress.stage.<type>} and given-up requests to its dead-letter topic, in the
 * form the workers use too (the request unchanged, the reason in the {@code dead-letter-reason} header), so a dead
 * letter can be replayed onto its stage topic.
 */
@ApplicationScoped
public class StageDispatcher {
    private static final Duration SEND_TIMEOUT = Duration.ofSeconds(30);

    @Inject
    @Channel("stage-requests")
    MutinyEmitter<byte[]> emitter;

    private EmitterPublisher deadLetters;

    @PostConstruct
    void createDeadLetterPublisher() {
        deadLetters = new EmitterPublisher(emitter, emitter, KafkaMessages.SOURCE, SEND_TIMEOUT);
    }

    void send(StageRequest request) {
        emitter.sendMessageAndAwait(KafkaMessages.message(Topics.stage(request.stageType()), request.runId(),
                Json.write(request), CloudEvents.STAGE_REQUEST));
    }

    void deadLetter(StageRequest request, String reason) {
        deadLetters.publish(request.stageType(), request.runId(), Json.write(request), reason);
    }
}
