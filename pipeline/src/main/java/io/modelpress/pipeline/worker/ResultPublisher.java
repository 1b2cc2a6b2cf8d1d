package io.modelpress.pipeline.worker;

import io.modelpress.pipeline.events.StageResult;

/** Where a worker's {@link StageResult}s go ({@code modelpress.stage-results}, key = run id). */
public interface ResultPublisher {
    /**
     * Sends a final result and returns once the broker has it.
     *
     * @throws io.modelpress.core.ModelPressException IO_ERROR when it cannot be delivered (the runtime retries)
     */
    void publish(StageResult result);

    /** Sends a PROGRESS event without waiting: progress is advisory and must never slow or fail a stage. */
    void publishProgress(StageResult progress);
}
