package io.modelpress.orchestrator;

import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.CloudEvents;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.smallrye.reactive.messaging.MutinyEmitter;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Channel;

import java.time.Instant;

/** Publishes stage requests to {@code modelpress.stage.<type>} and given-up requests to its dead-letter topic. */
@ApplicationScoped
public class StageDispatcher {
    /** CloudEvents type of a dead-lettered request. */
    static final String DEAD_LETTER = "io.modelpress.stage.dead-letter";

    /** The body of a dead-letter record: the request that was given up and why. */
    public record DeadLetter(StageRequest request, String reason, Instant time) {
    }

    @Inject
    @Channel("stage-requests")
    MutinyEmitter<byte[]> emitter;

    void send(StageRequest request) {
        emitter.sendMessageAndAwait(KafkaMessages.message(Topics.stage(request.stageType()), request.runId(),
                Json.write(request), CloudEvents.STAGE_REQUEST));
    }

    void deadLetter(StageRequest request, String reason, Instant now) {
        emitter.sendMessageAndAwait(KafkaMessages.message(Topics.deadLetters(request.stageType()), request.runId(),
                Json.write(new DeadLetter(request, reason, now)), DEAD_LETTER));
    }
}
