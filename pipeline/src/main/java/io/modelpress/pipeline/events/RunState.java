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
 * @param outgoing     key prefix of the final artifacts once the run succeeded (or, for a run that tuned, ended with
 *                     the best candidate published), else null
 * @param stages       the stages of the candidate being run (a run that does not tune has one candidate: its recipe);
 *                     once a run that tuned has ended, those of the chosen candidate
 * @param tuning       accuracy-aware tuning, present from the moment a recipe that tunes missed its gate with its own
 *                     candidate; null otherwise (and in states persisted before tuning existed)
 * @param student      a model the user gave to start from instead of {@code input} (e.g. a smaller architecture to
 *                     distill): the first stage works on it, while {@code input} stays every stage's original - the
 *                     teacher of distill, the reference of eval; null when none was given (and in older states)
 */
public record RunState(String runId, String name, String source, State state, String recipeName, String recipeYaml,
                       String recipeSource, ArtifactRef input, List<ArtifactRef> data, ArtifactRef tokenizer,
                       List<StageStatus> stages, String outgoing, String error, Instant createdAt, Instant updatedAt,
                       Tuning tuning, ArtifactRef student) {

    /** A run without tuning. */
    public RunState(String runId, String name, String source, State state, String recipeName, String recipeYaml,
                    String recipeSource, ArtifactRef input, List<ArtifactRef> data, ArtifactRef tokenizer,
                    List<StageStatus> stages, String outgoing, String error, Instant createdAt, Instant updatedAt) {
        this(runId, name, source, state, recipeName, recipeYaml, recipeSource, input, data, tokenizer, stages, outgoing, error,
                createdAt, updatedAt, null);
    }

    /** A run without a student. */
    public RunState(String runId, String name, String source, State state, String recipeName, String recipeYaml,
                    String recipeSource, ArtifactRef input, List<ArtifactRef> data, ArtifactRef tokenizer,
                    List<StageStatus> stages, String outgoing, String error, Instant createdAt, Instant updatedAt,
                    Tuning tuning) {
        this(runId, name, source, state, recipeName, recipeYaml, recipeSource, input, data, tokenizer, stages, outgoing, error,
                createdAt, updatedAt, tuning, null);
    }

    /**
     * Accuracy-aware tuning ({@code tuning: on_gate_failure: tune}) in the pipeline: the candidates come from the recipe
     * alone ({@code core.tune.Candidates}), so a number is enough to find a candidate's stage settings again.
     *
     * @param candidate    the number of the candidate whose stages {@link RunState#stages} holds (2, 3, ...; once
     *                     tuning stopped, the chosen one)
     * @param reusedStages how many leading stages of that candidate reuse an earlier candidate's outputs (same settings)
     * @param startedAt    when that candidate started
     * @param tried        the candidates that finished, in the order run, each with its stages as they ended
     * @param stoppedBy    why no further candidate is run (a candidate passed, every candidate tried, time budget, ...)
     *                     once tuning stopped, else null
     */
    public record Tuning(int candidate, int reusedStages, Instant startedAt, List<Candidate> tried, String stoppedBy) {
        public Tuning {
            tried = tried == null ? List.of() : List.copyOf(tried);
        }

        /** Tuning stopped: the run is publishing (or has published) the chosen candidate. */
        public boolean stopped() {
            return stoppedBy != null;
        }
    }

    /**
     * A candidate that finished (its gate passed or failed).
     *
     * @param stages its stages as they ended; each attempt's outputs stay under its own keys (attempt numbers of a
     *               stage go on from one candidate to the next, so no two candidates share an output prefix)
     */
    public record Candidate(int number, int reusedStages, List<StageStatus> stages, Instant startedAt, Instant finishedAt) {
        public Candidate {
            stages = stages == null ? List.of() : List.copyOf(stages);
        }
    }

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
