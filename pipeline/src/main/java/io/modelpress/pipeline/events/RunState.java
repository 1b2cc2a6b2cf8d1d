package io.modelpress.pipeline.events;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Instant;
import java.util.List;

/**
 * The latest state of a run, as kept on the compacted runs topic and served by the API.
 *
 * @param name         the model's name (its folder under incoming/, or the upload's name)
 * @param source       where the model came from (incoming key or "api")
 * @param recipeYaml   the recipe text the run executes
 * @param recipeSource where the recipe came from: "sibling", "bucket-default", "built-in:&lt;name&gt;", "api"
 * @param outgoing     key prefix of the final artifacts once the run succeeded, else null
 */
public record RunState(String runId, String name, String source, State state, String recipeName, String recipeYaml,
                       String recipeSource, ArtifactRef input, List<ArtifactRef> data, ArtifactRef tokenizer,
                       List<StageStatus> stages, String outgoing, String error, Instant createdAt, Instant updatedAt) {

    public enum State {
        PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED;

        public boolean terminal() {
            return this == SUCCEEDED || this == FAILED || this == CANCELLED;
        }
    }

    public record StageStatus(int index, String type, StageStatusValue status, int attempt, double progress, String message,
                              ArtifactRef output, JsonNode metrics, StageResult.Error error, StageResult.Timings timings,
                              Instant startedAt, Instant finishedAt) {
    }

    /**
     * A stage's status. QUEUED: an attempt was requested and no worker has reported on it yet; RUNNING: a worker
     * reports on it; STALLED: the worker of the previous attempt went silent (no heartbeat for the orchestrator's
     * {@code modelpress.stage.stall-after}), and this attempt was requested for another worker, none of which has
     * reported yet. QUEUED, RUNNING and STALLED are the in-flight ones.
     */
    public enum StageStatusValue {
        WAITING, QUEUED, RUNNING, STALLED, SUCCEEDED, FAILED, SKIPPED, CANCELLED;

        /** An attempt was requested and has not ended. */
        public boolean inFlight() {
            return this == QUEUED || this == RUNNING || this == STALLED;
        }
    }

    public RunState {
        data = data == null ? List.of() : List.copyOf(data);
        stages = stages == null ? List.of() : List.copyOf(stages);
    }
}
