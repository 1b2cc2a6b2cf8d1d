package io.modelpress.pipeline.worker;

/** Where requests go that failed past their retries ({@code modelpress.stage.<type>.dlq}, key = run id). */
public interface DeadLetterPublisher {
    /**
     * Sends the request as it was received, with the reason, and returns once the broker has it.
     *
     * @param stageType picks the topic: {@link io.modelpress.pipeline.Topics#deadLetters(String)}
     * @param key       the record key (the run id, when the request could be read)
     * @param request   the request's bytes, unchanged, so it can be replayed onto the stage topic
     * @param reason    why it failed, for a person
     * @throws io.modelpress.core.ModelPressException IO_ERROR when it cannot be delivered
     */
    void publish(String stageType, String key, byte[] request, String reason);
}
