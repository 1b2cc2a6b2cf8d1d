package io.modelpress.pipeline.events;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Instant;

/**
 * What a worker says about a stage attempt: progress while it runs, then exactly one final SUCCEEDED or FAILED.
 *
 * @param output  the model after this stage: the new model of a stage that transforms it, the input of a stage that
 *                hands it on unchanged (eval); also set when a quality gate failed; null for other failures
 * @param metrics the stage's report (quantization report, evaluation metrics, gate verdict), else null
 * @param error   why it failed, else null
 */
public record StageResult(String runId, int stageIndex, int attempt, String stageType, Status status, double progress,
                          String message, ArtifactRef output, JsonNode metrics, Error error, String workerId,
                          Timings timings, Instant time) {

    public enum Status { PROGRESS, SUCCEEDED, FAILED }

    /**
     * @param code      an io.modelpress.core.ErrorCode name
     * @param retryable true when trying again may succeed (transient infrastructure trouble)
     */
    public record Error(String code, String message, boolean retryable) {
    }

    /** Where the attempt's time went, in milliseconds: hand-off (download, upload) versus the pass itself. */
    public record Timings(long downloadMs, long runMs, long uploadMs) {
    }

    public boolean isFinal() {
        return status != Status.PROGRESS;
    }
}
