package io.modelpress.orchestrator;

import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.State;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.StageResult;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The state changes of a run and its stages, as pure functions from one immutable {@link RunState} to the next. */
final class RunStates {
    private RunStates() {
    }

    static RunState pending(String runId, String name, String source, Instant now) {
        return new RunState(runId, name, source, State.PENDING, null, null, null, null, List.of(), null, List.of(), null,
                null, now, now);
    }

    /** A transient problem (preparing inputs, writing results): the run keeps its state and the step is retried. */
    static RunState withProblem(RunState run, String problem, Instant now) {
        return new RunState(run.runId(), run.name(), run.source(), run.state(), run.recipeName(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), run.stages(), run.outgoing(), problem,
                run.createdAt(), now, run.tuning(), run.student());
    }

    static RunState withRecipeText(RunState run, String recipeYaml, String recipeSource, Instant now) {
        return new RunState(run.runId(), run.name(), run.source(), run.state(), run.recipeName(), recipeYaml, recipeSource,
                run.input(), run.data(), run.tokenizer(), run.stages(), run.outgoing(), run.error(), run.createdAt(), now, run.tuning(),
                run.student());
    }

    /** @param student the model the first stage starts from instead of {@code input}, or null */
    static RunState withInputs(RunState run, ArtifactRef input, ArtifactRef student, List<ArtifactRef> data, ArtifactRef tokenizer,
                               Instant now) {
        return new RunState(run.runId(), run.name(), run.source(), run.state(), run.recipeName(), run.recipeYaml(),
                run.recipeSource(), input, data, tokenizer, run.stages(), run.outgoing(), run.error(), run.createdAt(), now, run.tuning(),
                student);
    }

    /** Inputs in place and recipe valid: RUNNING, every stage WAITING. */
    static RunState started(RunState run, Recipe recipe, Instant now) {
        // a stage's index is its position in the recipe's list, from 0 (StageSpec.index() counts from 1)
        List<StageStatus> stages = new ArrayList<>();
        for (StageSpec spec : recipe.stages()) {
            stages.add(new StageStatus(stages.size(), spec.type(), StageStatusValue.WAITING, 0, 0, null, null, null, null,
                    null, null, null));
        }
        return new RunState(run.runId(), run.name(), run.source(), State.RUNNING, recipe.name(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), stages, null, null, run.createdAt(), now, run.tuning(),
                run.student());
    }

    static RunState withStage(RunState run, StageStatus stage, Instant now) {
        List<StageStatus> stages = new ArrayList<>(run.stages());
        stages.set(stage.index(), stage);
        return new RunState(run.runId(), run.name(), run.source(), run.state(), run.recipeName(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), stages, run.outgoing(), run.error(),
                run.createdAt(), now, run.tuning(), run.student());
    }

    static RunState succeeded(RunState run, String outgoing, Instant now) {
        return new RunState(run.runId(), run.name(), run.source(), State.SUCCEEDED, run.recipeName(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), run.stages(), outgoing, null,
                run.createdAt(), now, run.tuning(), run.student());
    }

    /** FAILED: stages that had not finished are SKIPPED; everything produced so far stays referenced. */
    static RunState failed(RunState run, String error, Instant now) {
        return ended(run, State.FAILED, error, StageStatusValue.SKIPPED, now);
    }

    /** FAILED with outputs: a run that tuned and met no goal; its closest candidate is published under {@code outgoing}. */
    static RunState failedWithOutputs(RunState run, String outgoing, String error, Instant now) {
        RunState failed = failed(run, error, now);
        return new RunState(failed.runId(), failed.name(), failed.source(), failed.state(), failed.recipeName(),
                failed.recipeYaml(), failed.recipeSource(), failed.input(), failed.data(), failed.tokenizer(), failed.stages(),
                outgoing, failed.error(), failed.createdAt(), failed.updatedAt(), failed.tuning(), failed.student());
    }

    /** The run's stages and tuning replaced: the next candidate starts, or tuning stopped on the chosen candidate. */
    static RunState withTuning(RunState run, List<StageStatus> stages, RunState.Tuning tuning, Instant now) {
        return new RunState(run.runId(), run.name(), run.source(), run.state(), run.recipeName(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), stages, run.outgoing(), run.error(),
                run.createdAt(), now, tuning, run.student());
    }

    /** A stage of a new candidate that has not been requested yet. */
    static StageStatus waiting(int index, String type) {
        return new StageStatus(index, type, StageStatusValue.WAITING, 0, 0, null, null, null, null, null, null, null);
    }

    /** A candidate's stages as it ended: those it never reached are SKIPPED. */
    static List<StageStatus> skipWaiting(List<StageStatus> stages) {
        List<StageStatus> ended = new ArrayList<>();
        for (StageStatus s : stages) {
            ended.add(s.status() != StageStatusValue.WAITING ? s : new StageStatus(s.index(), s.type(), StageStatusValue.SKIPPED,
                    s.attempt(), s.progress(), s.message(), s.output(), s.metrics(), s.error(), s.timings(), s.startedAt(),
                    s.finishedAt()));
        }
        return ended;
    }

    /** CANCELLED: the stage in flight is CANCELLED (its late result will be ignored), the rest SKIPPED. */
    static RunState cancelled(RunState run, Instant now) {
        return ended(run, State.CANCELLED, null, StageStatusValue.CANCELLED, now);
    }

    private static RunState ended(RunState run, State state, String error, StageStatusValue inFlight, Instant now) {
        List<StageStatus> stages = new ArrayList<>();
        for (StageStatus s : run.stages()) {
            boolean wasInFlight = s.status().inFlight();
            StageStatusValue status = wasInFlight ? inFlight : s.status() == StageStatusValue.WAITING ? StageStatusValue.SKIPPED : s.status();
            stages.add(new StageStatus(s.index(), s.type(), status, s.attempt(), s.progress(), s.message(), s.output(),
                    s.metrics(), s.error(), s.timings(), s.startedAt(), wasInFlight ? now : s.finishedAt()));
        }
        return new RunState(run.runId(), run.name(), run.source(), state, run.recipeName(), run.recipeYaml(),
                run.recipeSource(), run.input(), run.data(), run.tokenizer(), stages, run.outgoing(), error,
                run.createdAt(), now, run.tuning(), run.student());
    }

    /** A new attempt was requested; the previous attempt's error stays visible until this one reports. */
    static StageStatus queued(StageStatus s, int attempt, String message, Instant now) {
        return requested(s, StageStatusValue.QUEUED, attempt, message, now);
    }

    /** The previous attempt's worker went silent; this attempt was requested for another worker. */
    static StageStatus stalled(StageStatus s, int attempt, String message, Instant now) {
        return requested(s, StageStatusValue.STALLED, attempt, message, now);
    }

    private static StageStatus requested(StageStatus s, StageStatusValue status, int attempt, String message, Instant now) {
        return new StageStatus(s.index(), s.type(), status, attempt, 0, message, null, null, s.error(), null, now, null);
    }

    static StageStatus progressed(StageStatus s, StageResult result) {
        return new StageStatus(s.index(), s.type(), StageStatusValue.RUNNING, s.attempt(),
                Math.max(0, Math.min(1, result.progress())), result.message(), null, null, null, null, s.startedAt(), null);
    }

    static StageStatus succeeded(StageStatus s, StageResult result, Instant now) {
        return new StageStatus(s.index(), s.type(), StageStatusValue.SUCCEEDED, s.attempt(), 1, result.message(),
                result.output(), result.metrics(), null, result.timings(), s.startedAt(), now);
    }

    static StageStatus failed(StageStatus s, StageResult.Error error, StageResult result, Instant now) {
        return new StageStatus(s.index(), s.type(), StageStatusValue.FAILED, s.attempt(), s.progress(),
                result == null ? s.message() : result.message(), null, result == null ? null : result.metrics(), error,
                result == null ? null : result.timings(), s.startedAt(), now);
    }

    /** The model the next stage works on: the newest stage output, else the run's start model. */
    static ArtifactRef latestModel(RunState run, int beforeIndex) {
        return latestModel(startModel(run), run.stages(), beforeIndex);
    }

    /**
     * The model the first stage works on: the user's student when one was given (as {@code compress --student}),
     * else the run's input. The input stays every stage's original either way.
     */
    static ArtifactRef startModel(RunState run) {
        return run.student() != null ? run.student() : run.input();
    }

    /** The newest output among {@code stages} before {@code beforeIndex}, else {@code start}. */
    static ArtifactRef latestModel(ArtifactRef start, List<StageStatus> stages, int beforeIndex) {
        ArtifactRef model = start;
        for (StageStatus s : stages) {
            if (s.index() < beforeIndex && s.status() == StageStatusValue.SUCCEEDED && s.output() != null) {
                model = s.output();
            }
        }
        return model;
    }

    static boolean allStagesSucceeded(RunState run) {
        return run.stages().stream().allMatch(s -> s.status() == StageStatusValue.SUCCEEDED);
    }
}
