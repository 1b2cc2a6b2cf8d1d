package io.modelpress.orchestrator;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.tune.Candidates;
import io.modelpress.core.tune.Candidates.Candidate;
import io.modelpress.pipeline.events.BucketEvent;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;
import io.modelpress.pipeline.events.RunState.StageStatusValue;
import io.modelpress.pipeline.events.RunState.State;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.worker.StageWorker;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;

/**
 * The run state machine. A run is PENDING while its inputs are copied, RUNNING while its stages execute one after
 * another (each stage gets the newest model produced before it - the first stage the run's student when it has one -
 * and the run's model as its original), and ends SUCCEEDED (final model and reports under outgoing/), FAILED (a stage
 * failed for good, timed out too often, the recipe or model was unusable, or the time budget ran out) or CANCELLED.
 *
 * <p>Every change is written to the runs topic before it is acted on (a request published, a result acknowledged),
 * so a restarted orchestrator continues from what it had promised. Results are handled at least once and made
 * idempotent by (run, stage, attempt): a result counts only for the attempt the run is waiting for; duplicates, late
 * results of earlier attempts and results for ended runs are ignored. All changes to a run happen under its lock.
 *
 * <p>A worker sends PROGRESS events while an attempt runs, at least one per heartbeat interval. A RUNNING attempt
 * that has been silent for {@code modelpress.stage.stall-after} is stalled (its worker died, or lost the broker): it is
 * recorded as given up under its output keys, so a redelivered copy of its request is answered from that record
 * instead of running again, and the stage is requested again as the next attempt (STALLED until a worker reports on
 * it). A slow worker keeps sending heartbeats and is never stalled.
 *
 * <p>A recipe that tunes ({@code tuning: on_gate_failure: tune}) and misses its gate tries the candidates of
 * {@link Candidates} in turn, as the in-process compressor does: each candidate's stages are requested like any
 * others, from its first stage whose settings differ from every earlier candidate's (the stages before it keep the
 * earlier candidate's outputs). A stage's attempt numbers go on from one candidate to the next, so each candidate's
 * outputs have keys of their own and a late result of an earlier candidate is stale. The finished candidates are
 * kept in {@link RunState#tuning}; when tuning stops (a candidate passed under backoff or fallback, every candidate
 * was tried, the time budget would run out, or a candidate's stage failed for another reason) the chosen candidate is
 * published with a report holding every candidate: SUCCEEDED when it passed its gate, else FAILED ("goal not met")
 * with the closest candidate published all the same.
 */
@ApplicationScoped
public class RunEngine {
    private static final Logger LOG = Logger.getLogger(RunEngine.class);
    /** The worker id in the {@code stage.json} of an attempt the orchestrator gave up on. */
    static final String GIVEN_UP_BY = "orchestrator";

    @Inject
    RunStore store;

    @Inject
    RunLog runLog;

    @Inject
    StageDispatcher dispatcher;

    @Inject
    Inputs inputs;

    @Inject
    Outputs outputs;

    @Inject
    RunMetrics metrics;

    @Inject
    OrchestratorConfig config;

    @Inject
    ArtifactStore artifacts;

    Clock clock = Clock.systemUTC();

    /** Parsed recipes of known runs; the recipe text itself is part of the persisted state. */
    private final Map<String, Recipe> recipes = new ConcurrentHashMap<>();

    /** The tuning candidates of known runs, from their recipes alone (so the same after a restart). */
    private final Map<String, List<Candidate>> candidates = new ConcurrentHashMap<>();

    /** Copies drops' inputs; two at a time, so one huge model does not hold up the others. */
    private final ExecutorService preparation = Executors.newFixedThreadPool(2, runnable -> {
        Thread thread = new Thread(runnable, "modelpress-prepare");
        thread.setDaemon(true);
        return thread;
    });
    private final Set<String> preparing = ConcurrentHashMap.newKeySet();

    /** When each RUNNING attempt last sent an event, and from which worker; kept in memory only (see {@link #check}). */
    private final Map<Attempt, Heard> heard = new ConcurrentHashMap<>();

    private record Attempt(String runId, int index, int attempt) {
        static Attempt of(String runId, StageStatus stage) {
            return new Attempt(runId, stage.index(), stage.attempt());
        }
    }

    /** @param workerId the worker that sent the last event, null when none was seen by this process */
    private record Heard(String workerId, Instant at) {
    }

    @PreDestroy
    void stopPreparation() {
        preparation.shutdownNow();
    }

    // ---------------------------------------------------------------- intake

    /**
     * Starts a run for a new model under the intake prefix. Other events (deletions, other keys, other buckets) and
     * objects that already have a run are ignored.
     *
     * @return the new run's id, or empty when nothing was started
     */
    public Optional<String> onBucketEvent(BucketEvent event) {
        if (!event.objectCreated() || !event.bucket().equals(artifacts.bucket())) {
            return Optional.empty();
        }
        Optional<Drop> drop = Drop.of(intakePrefix(), event.key());
        if (drop.isEmpty()) {
            return Optional.empty();
        }
        String runId = runIdFor(event.bucket(), event.key(), event.versionId(), event.etag(), event.size());
        synchronized (store.lock(runId)) {
            if (store.get(runId).isPresent()) {
                metrics.duplicateDrop();
                LOG.debugf("%s (etag %s) already has run %s; event ignored", event.key(), event.etag(), runId);
                return Optional.empty();
            }
            save(RunStates.pending(runId, drop.get().name(), event.key(), now()));
            LOG.infof("Run %s created for %s", runId, event.key());
        }
        schedulePreparation(runId);
        return Optional.of(runId);
    }

    /** The run id of an uploaded object: the same object version always gives the same id. */
    static String runIdFor(String bucket, String key, String versionId, String etag, long size) {
        String version = versionId != null ? "version:" + versionId : etag != null ? "etag:" + etag : "size:" + size;
        return RunIds.forObject(bucket, key, version);
    }

    String intakePrefix() {
        String prefix = config.intake().prefix();
        return prefix.endsWith("/") ? prefix : prefix + "/";
    }

    /**
     * Copies a PENDING drop's inputs on the preparation threads: copying (and hashing) a large model takes a while,
     * and neither the intake consumer nor the tick should wait for it.
     */
    private void schedulePreparation(String runId) {
        if (preparing.add(runId)) {
            try {
                preparation.execute(() -> {
                    try {
                        prepareDrop(runId);
                    } catch (RuntimeException e) {
                        LOG.errorf(e, "Run %s: preparing failed; will retry", runId);
                    } finally {
                        preparing.remove(runId);
                    }
                });
            } catch (RejectedExecutionException e) {
                preparing.remove(runId); // shutting down; the next start prepares it
            }
        }
    }

    /**
     * Copies a PENDING drop's inputs and starts it; a transient failure leaves it PENDING for {@link #tick}. The copy
     * runs outside the run's lock (a cancel need not wait for it); the outcome is applied only if the run is still
     * PENDING then.
     */
    private void prepareDrop(String runId) {
        RunState run = store.get(runId).orElseThrow();
        if (run.state() != State.PENDING) {
            return;
        }
        Optional<Drop> drop = Drop.of(intakePrefix(), run.source());
        Inputs.RunInputs copied = null;
        String failure = null;
        String problem = null;
        if (drop.isEmpty()) {
            failure = ErrorCode.BAD_ARGUMENT + ": " + run.source() + " is not a model under " + intakePrefix();
        } else {
            try {
                copied = inputs.copyDrop(runId, drop.get());
            } catch (ModelPressException e) {
                if (e.permanent()) {
                    failure = describe(e);
                } else {
                    LOG.warnf("Run %s: copying the inputs failed, will retry: %s", runId, e.getMessage());
                    problem = "copying the inputs failed, retrying: " + describe(e);
                }
            }
        }
        synchronized (store.lock(runId)) {
            RunState current = store.get(runId).orElseThrow();
            if (current.state() != State.PENDING) {
                return;
            }
            if (failure != null) {
                fail(current, failure);
            } else if (problem != null) {
                save(RunStates.withProblem(current, problem, now()));
            } else {
                start(current, copied);
            }
        }
    }

    /**
     * Starts a run submitted through the API: copies or uploads its inputs (the function gets the new run id), parses
     * its recipe and queues the first stage. Nothing is created when the inputs or the recipe are unusable: the
     * caller gets the exception.
     */
    public RunState submit(String name, Function<String, Inputs.RunInputs> putInputs) {
        String runId = RunIds.random();
        Inputs.RunInputs copied = putInputs.apply(runId);
        Recipe recipe = plan(copied.recipeYaml(), copied.recipeWhere());
        synchronized (store.lock(runId)) {
            Instant now = now();
            RunState run = RunStates.pending(runId, name, "api", now);
            run = RunStates.withRecipeText(run, copied.recipeYaml(), copied.recipeSource(), now);
            run = RunStates.withInputs(run, copied.model(), copied.student(), copied.data(), copied.tokenizer(), now);
            recipes.put(runId, recipe);
            dispatch(RunStates.started(run, recipe, now), 0, 1, null);
            LOG.infof("Run %s created for an API submission of '%s'", runId, name);
            return store.get(runId).orElseThrow();
        }
    }

    private void start(RunState run, Inputs.RunInputs copied) {
        Instant now = now();
        RunState withInputs = RunStates.withInputs(
                RunStates.withRecipeText(run, copied.recipeYaml(), copied.recipeSource(), now),
                copied.model(), copied.student(), copied.data(), copied.tokenizer(), now);
        Recipe recipe;
        try {
            recipe = plan(copied.recipeYaml(), copied.recipeWhere());
        } catch (ModelPressException e) {
            fail(withInputs, describe(e));
            return;
        }
        recipes.put(run.runId(), recipe);
        dispatch(RunStates.started(withInputs, recipe, now), 0, 1, null);
    }

    // ---------------------------------------------------------------- stages

    /** Queues an attempt of a stage: the state is persisted first, then the request published. */
    private void dispatch(RunState run, int index, int attempt, String message) {
        dispatch(run, RunStates.queued(run.stages().get(index), attempt, message, now()));
    }

    /** @param requested the stage with its new attempt, QUEUED or STALLED */
    private void dispatch(RunState run, StageStatus requested) {
        RunState next = RunStates.withStage(run, requested, now());
        save(next);
        dispatcher.send(request(next, requested.index()));
    }

    StageRequest request(RunState run, int index) {
        StageStatus stage = run.stages().get(index);
        StageSpec spec = candidate(run).stages().get(index);
        return new StageRequest(run.runId(), index, stage.attempt(), stage.type(), spec.params(),
                RunStates.latestModel(run, index), run.input(), run.data(), run.tokenizer(), deadline(run, stage), !recipe(run).cache());
    }

    /** One attempt's deadline: its stage type's timeout, but never past the run's time budget. */
    private Instant deadline(RunState run, StageStatus stage) {
        Instant stageDeadline = stage.startedAt().plus(config.stage().timeoutFor(stage.type()));
        Instant runDeadline = runDeadline(run);
        return stageDeadline.isBefore(runDeadline) ? stageDeadline : runDeadline;
    }

    private Instant runDeadline(RunState run) {
        return run.createdAt().plus(recipe(run).tuning().timeBudget());
    }

    private Recipe recipe(RunState run) {
        return recipes.computeIfAbsent(run.runId(), id -> plan(run.recipeYaml(), "recipe of " + id));
    }

    /** The candidates a run may try, in order; the first is the recipe's own (the only one when it does not tune). */
    private List<Candidate> candidates(RunState run) {
        return candidates.computeIfAbsent(run.runId(), id -> candidatesOf(recipe(run)));
    }

    static List<Candidate> candidatesOf(Recipe plan) {
        return Candidates.of(plan, Stages.registry());
    }

    /** The candidate whose stages the run's stages are: the recipe's own unless tuning started another. */
    private Candidate candidate(RunState run) {
        return candidates(run).get(run.tuning() == null ? 0 : run.tuning().candidate() - 1);
    }

    /**
     * The highest attempt of a stage among the candidates that finished (0 without tuning): the current candidate's
     * attempts of the stage are numbered on from there, and retries are counted from there.
     */
    private static int attemptsBefore(RunState run, int index) {
        if (run.tuning() == null) {
            return 0;
        }
        int highest = 0;
        for (RunState.Candidate c : run.tuning().tried()) {
            if (index < c.stages().size()) {
                highest = Math.max(highest, c.stages().get(index).attempt());
            }
        }
        return highest;
    }

    /**
     * The stages a run executes: its recipe's, with a final evaluation appended when the recipe has no eval stage, as
     * the in-process compressor does, so that every run's report compares its output with its input. A run persisted
     * before this rule has fewer stages than its plan; only its own stages are ever requested.
     */
    static Recipe plan(String recipeYaml, String where) {
        return Recipes.withFinalEvaluation(RecipeParser.parse(recipeYaml, where));
    }

    /** Acts on a worker's report about a stage attempt. */
    public void onResult(StageResult result) {
        if (result.runId() == null) {
            metrics.ignoredResult("unknown-run");
            return;
        }
        synchronized (store.lock(result.runId())) {
            RunState run = store.get(result.runId()).orElse(null);
            if (run == null) {
                ignore(result, "unknown-run");
                return;
            }
            if (run.state().terminal()) {
                ignore(result, "run-ended");
                return;
            }
            if (result.stageIndex() < 0 || result.stageIndex() >= run.stages().size()) {
                ignore(result, "unknown-stage");
                return;
            }
            StageStatus stage = run.stages().get(result.stageIndex());
            boolean awaited = stage.attempt() == result.attempt() && stage.type().equals(result.stageType())
                    && stage.status().inFlight();
            if (!awaited) {
                ignore(result, "stale");
                return;
            }
            Attempt attempt = Attempt.of(run.runId(), stage);
            if (result.status() == StageResult.Status.PROGRESS) {
                heard.put(attempt, new Heard(result.workerId(), now()));
                // a heartbeat repeats the last progress: only a change is worth persisting
                StageStatus progressed = RunStates.progressed(stage, result);
                if (!progressed.equals(stage)) {
                    save(RunStates.withStage(run, progressed, now()));
                }
                return;
            }
            heard.remove(attempt);
            if (result.status() == StageResult.Status.SUCCEEDED) {
                stageSucceeded(run, stage, result);
            } else {
                stageFailed(run, stage, result.error() != null ? result.error()
                        : new StageResult.Error(ErrorCode.INTERNAL.name(), "the worker reported a failure without an error", false), result);
            }
        }
    }

    private void ignore(StageResult result, String reason) {
        metrics.ignoredResult(reason);
        LOG.debugf("Ignoring %s result of %s stage %d attempt %d: %s", result.status(), result.runId(),
                result.stageIndex(), result.attempt(), reason);
    }

    private void stageSucceeded(RunState run, StageStatus stage, StageResult result) {
        RunState next = RunStates.withStage(run, RunStates.succeeded(stage, result, now()), now());
        int following = stage.index() + 1;
        if (following < next.stages().size()) {
            dispatch(next, following, attemptsBefore(next, following) + 1, null);
        } else if (next.tuning() == null) {
            save(next);
            finish(next);
        } else {
            candidateEnded(next);
        }
    }

    /**
     * A failed attempt: retried while the error is retryable and attempts are left; otherwise the run fails with the
     * stage's error, and a request given up after retries goes to the stage's dead-letter topic.
     *
     * @param result the worker's result, or null for a timeout or a stall
     */
    private void stageFailed(RunState run, StageStatus stage, StageResult.Error error, StageResult result) {
        stageFailed(run, stage, error, result, false);
    }

    /** @param stalled the attempt's worker went silent: the next attempt is shown STALLED until a worker takes it */
    private void stageFailed(RunState run, StageStatus stage, StageResult.Error error, StageResult result, boolean stalled) {
        Instant now = now();
        RunState next = RunStates.withStage(run, RunStates.failed(stage, error, result, now), now);
        int before = attemptsBefore(run, stage.index());
        int maxAttempts = before + config.stage().maxAttempts();
        if (error.retryable() && stage.attempt() < maxAttempts && now.isBefore(runDeadline(run))) {
            LOG.infof("Run %s stage %d (%s) attempt %d failed (%s); retrying", run.runId(), stage.index(), stage.type(),
                    stage.attempt(), error.message());
            int attempt = stage.attempt() + 1;
            StageStatus failed = next.stages().get(stage.index());
            dispatch(next, stalled
                    ? RunStates.stalled(failed, attempt, error.message() + "; requested again as attempt " + attempt + " of "
                    + maxAttempts + " for another worker", now)
                    : RunStates.queued(failed, attempt, "attempt " + stage.attempt() + " failed (" + error.code() + ": "
                    + error.message() + "); attempt " + attempt + " of " + maxAttempts, now));
            return;
        }
        String why = "stage " + stage.index() + " (" + stage.type() + ") failed";
        if (error.retryable()) {
            int attempts = stage.attempt() - before;
            why += " after " + attempts + " attempt" + (attempts == 1 ? "" : "s");
            dispatcher.deadLetter(request(run, stage.index()), error.code() + ": " + error.message());
        }
        String message = why + ": " + error.code() + ": " + error.message();
        if (ErrorCode.GATE_FAILED.name().equals(error.code()) && (next.tuning() != null || candidates(next).size() > 1)) {
            candidateEnded(next);
        } else if (next.tuning() != null) {
            // a tuning candidate that failed for another reason ends tuning; the candidates that finished still count
            stopTuning(next, next.tuning().tried(), now.isBefore(runDeadline(run)) ? "candidate " + next.tuning().candidate()
                    + " failed: " + message : RunReport.Tuning.TIME_BUDGET);
        } else {
            fail(next, message);
        }
    }

    // ---------------------------------------------------------------- tuning

    /**
     * The current candidate ended, every stage passed or one missed its gate: it joins the candidates tried, and the
     * next candidate starts unless tuning stops here (the rules of the in-process compressor).
     *
     * @param run with the candidate's last stage ended
     */
    private void candidateEnded(RunState run) {
        Instant now = now();
        RunState.Tuning tuning = run.tuning();
        List<Candidate> all = candidates(run);
        Candidate ended = candidate(run);
        List<RunState.Candidate> tried = new ArrayList<>(tuning == null ? List.of() : tuning.tried());
        tried.add(new RunState.Candidate(ended.number(), tuning == null ? 0 : tuning.reusedStages(),
                RunStates.skipWaiting(run.stages()), tuning == null ? run.createdAt() : tuning.startedAt(), now));
        Recipe.Tuning settings = recipe(run).tuning();
        boolean passed = Reports.tuning(run, recipe(run), tried, RunReport.Tuning.ALL_TRIED).outcome()
                .equals(RunReport.Tuning.GOAL_MET);
        Duration slowest = tried.stream().map(c -> Duration.between(c.startedAt(), c.finishedAt()))
                .max(Duration::compareTo).orElse(Duration.ZERO);
        if (passed && Candidates.stopsAtFirstPass(settings.strategy())) {
            stopTuning(run, tried, RunReport.Tuning.PASSED_STOP);
        } else if (ended.number() >= all.size()) {
            stopTuning(run, tried, RunReport.Tuning.ALL_TRIED);
        } else if (now.plus(slowest).isAfter(runDeadline(run))) {
            // a candidate is not started when one like the slowest so far would end past the budget
            stopTuning(run, tried, RunReport.Tuning.TIME_BUDGET);
        } else {
            startCandidate(run, all.get(ended.number()), tried, now);
        }
    }

    /**
     * Requests the first stage of a candidate that differs from the earlier candidates: its leading stages take the
     * outputs of the earlier candidate that shares the most of them (same settings, succeeded).
     */
    private void startCandidate(RunState run, Candidate next, List<RunState.Candidate> tried, Instant now) {
        List<Candidate> all = candidates(run);
        int stageCount = run.stages().size();
        int reused = 0;
        RunState.Candidate source = null;
        for (RunState.Candidate done : tried) {
            int same = Math.min(next.firstDifference(all.get(done.number() - 1)), Math.min(stageCount - 1, done.stages().size()));
            int usable = 0;
            while (usable < same && done.stages().get(usable).status() == StageStatusValue.SUCCEEDED) {
                usable++;
            }
            if (usable > reused) {
                reused = usable;
                source = done;
            }
        }
        List<StageStatus> stages = new ArrayList<>();
        for (StageStatus s : run.stages()) {
            stages.add(s.index() < reused ? source.stages().get(s.index()) : RunStates.waiting(s.index(), s.type()));
        }
        RunState started = RunStates.withTuning(run, stages, new RunState.Tuning(next.number(), reused, now, tried, null), now);
        String message = "tuning: candidate " + next.number() + " of " + all.size() + " (" + String.join("; ", next.changes()) + ")";
        LOG.infof("Run %s: %s, from stage %d", run.runId(), message, reused);
        dispatch(started, reused, attemptsBefore(started, reused) + 1, message);
    }

    /** Tuning stops: the run's stages become the chosen candidate's, which {@link #finish} publishes. */
    private void stopTuning(RunState run, List<RunState.Candidate> tried, String stoppedBy) {
        Instant now = now();
        if (tried.isEmpty()) {
            fail(run, stoppedBy);
            return;
        }
        RunReport.Tuning report = Reports.tuning(run, recipe(run), tried, stoppedBy);
        RunState.Candidate chosen = tried.stream().filter(c -> c.number() == report.chosen()).findFirst().orElseThrow();
        LOG.infof("Run %s: tuning stopped (%s): %s, candidate %d chosen", run.runId(), stoppedBy, report.outcome(), chosen.number());
        RunState stopped = RunStates.withTuning(run, chosen.stages(),
                new RunState.Tuning(chosen.number(), chosen.reusedStages(), chosen.startedAt(), tried, stoppedBy), now);
        save(stopped);
        finish(stopped);
    }

    /** Why a run that tuned without meeting its goal failed, worded as the in-process compressor words it. */
    private static String goalNotMet(RunState run, RunReport.Tuning tuning) {
        RunReport.Candidate chosen = tuning.chosenCandidate();
        String error = run.stages().stream().filter(s -> s.error() != null).findFirst()
                .map(s -> "stage " + s.index() + " (" + s.type() + ") failed: " + s.error().code() + ": " + s.error().message())
                .orElse(chosen.gateFailure());
        return RunReport.Tuning.GOAL_NOT_MET + ": none of the " + tuning.candidates().size() + " candidates passed its gate ("
                + tuning.stoppedBy() + "); the output is candidate " + tuning.chosen() + ", the closest: " + error;
    }

    /**
     * Every stage succeeded, or tuning stopped: publish the final model (the chosen candidate's) and reports, then
     * SUCCEEDED, or FAILED when tuning met no goal. Retried by {@link #tick} on failure.
     */
    private void finish(RunState run) {
        Instant now = now();
        RunState succeeded = RunStates.succeeded(run, Outputs.outgoingPrefix(run), now);
        if (run.tuning() != null && run.tuning().stopped()) {
            RunReport.Tuning tuning = Reports.tuning(run, recipe(run), run.tuning().tried(), run.tuning().stoppedBy());
            if (!tuning.outcome().equals(RunReport.Tuning.GOAL_MET)) {
                succeeded = RunStates.failedWithOutputs(run, Outputs.outgoingPrefix(run), goalNotMet(run, tuning), now);
            }
        }
        try {
            outputs.publish(succeeded, now);
        } catch (ModelPressException e) {
            if (e.permanent()) {
                fail(run, "writing the results failed: " + describe(e));
            } else {
                LOG.warnf("Run %s: writing the results failed, will retry: %s", run.runId(), e.getMessage());
                save(RunStates.withProblem(run, "writing the results failed, retrying: " + describe(e), now));
            }
            return;
        }
        save(succeeded);
        if (succeeded.state() == State.SUCCEEDED) {
            LOG.infof("Run %s succeeded: %s", run.runId(), succeeded.outgoing());
        } else {
            LOG.infof("Run %s failed, its closest candidate published to %s: %s", run.runId(), succeeded.outgoing(), succeeded.error());
        }
    }

    private void fail(RunState run, String error) {
        save(RunStates.failed(run, error, now()));
        LOG.infof("Run %s failed: %s", run.runId(), error);
    }

    // ---------------------------------------------------------------- API

    /** Cancels a run that has not ended; the result of a stage in flight will be ignored when it comes. */
    public RunState cancel(String runId) {
        synchronized (store.lock(runId)) {
            RunState run = store.get(runId).orElseThrow(() -> ApiException.notFound(runId));
            if (run.state().terminal()) {
                throw new ApiException(409, "ALREADY_ENDED", "run '" + runId + "' has already ended: " + run.state());
            }
            RunState cancelled = RunStates.cancelled(run, now());
            save(cancelled);
            LOG.infof("Run %s cancelled", runId);
            return cancelled;
        }
    }

    // ---------------------------------------------------------------- time

    /**
     * Periodic duties: fails attempts past their deadline (retrying them when attempts are left) and runs past their
     * time budget; retries copying inputs and writing results after transient failures; expires per-run metrics.
     */
    public void tick() {
        if (!store.restored()) {
            return;
        }
        Instant now = now();
        for (RunState snapshot : store.all()) {
            if (snapshot.state().terminal()) {
                continue;
            }
            synchronized (store.lock(snapshot.runId())) {
                try {
                    check(store.get(snapshot.runId()).orElseThrow(), now);
                } catch (RuntimeException e) {
                    LOG.errorf(e, "Run %s: periodic check failed", snapshot.runId());
                }
            }
        }
        metrics.expire(now);
    }

    private void check(RunState run, Instant now) {
        Duration sinceUpdate = Duration.between(run.updatedAt(), now);
        if (run.state() == State.PENDING) {
            if (preparing.contains(run.runId())) {
                return; // a copy in progress is bounded by the store's I/O timeout
            }
            Duration prepareTimeout = config.run().prepareTimeout();
            if (Duration.between(run.createdAt(), now).compareTo(prepareTimeout) > 0) {
                fail(run, ErrorCode.IO_ERROR + ": the inputs could not be copied within " + prepareTimeout
                        + (run.error() == null ? "" : "; last problem: " + run.error()));
            } else if (sinceUpdate.compareTo(config.run().retryDelay()) >= 0) {
                schedulePreparation(run.runId());
            }
            return;
        }
        if (run.state() != State.RUNNING) {
            return;
        }
        if (run.tuning() != null && run.tuning().stopped()) {
            if (sinceUpdate.compareTo(config.run().retryDelay()) >= 0) {
                finish(run);
            }
            return;
        }
        if (now.isAfter(runDeadline(run)) && run.tuning() != null) {
            // the candidate in flight is abandoned; the candidates that finished decide
            stopTuning(run, run.tuning().tried(), RunReport.Tuning.TIME_BUDGET);
            return;
        }
        if (now.isAfter(runDeadline(run))) {
            String running = run.stages().stream().filter(RunEngine::inFlight)
                    .map(s -> "stage " + s.index() + " (" + s.type() + ")").findFirst().orElse("no stage");
            fail(run, ErrorCode.LIMIT_EXCEEDED + ": the recipe's time budget of " + recipe(run).tuning().timeBudget()
                    + " ran out (" + running + " was in progress)");
            return;
        }
        if (RunStates.allStagesSucceeded(run)) {
            if (sinceUpdate.compareTo(config.run().retryDelay()) >= 0) {
                if (run.tuning() == null) {
                    finish(run);
                } else {
                    candidateEnded(run);
                }
            }
            return;
        }
        for (StageStatus stage : run.stages()) {
            if (inFlight(stage) && now.isAfter(deadline(run, stage))) {
                Duration timeout = config.stage().timeoutFor(stage.type());
                stageFailed(run, stage, new StageResult.Error(ErrorCode.LIMIT_EXCEEDED.name(),
                        "attempt " + stage.attempt() + " did not finish within the stage timeout of " + timeout, true), null);
                return;
            }
            if (stage.status() == StageStatusValue.RUNNING) {
                // an attempt that was RUNNING before this process started gets a full stall-after from now
                Heard last = heard.computeIfAbsent(Attempt.of(run.runId(), stage), attempt -> new Heard(null, now));
                if (Duration.between(last.at(), now).compareTo(config.stage().stallAfter()) > 0) {
                    stalled(run, stage, last);
                    return;
                }
            }
        }
    }

    /**
     * The worker of a RUNNING attempt went silent: the attempt is recorded as given up and the stage requested again
     * (or, with no attempts left, the run fails and the request is dead-lettered, like any retryable failure).
     */
    private void stalled(RunState run, StageStatus stage, Heard last) {
        heard.remove(Attempt.of(run.runId(), stage));
        metrics.stalled(stage.type());
        String error = "attempt " + stage.attempt() + " stalled: no heartbeat from " + (last.workerId() == null ? "its worker"
                : "worker " + last.workerId()) + " for more than " + seconds(config.stage().stallAfter());
        LOG.warnf("Run %s stage %d (%s): %s", run.runId(), stage.index(), stage.type(), error);
        StageResult.Error stall = new StageResult.Error(ErrorCode.LIMIT_EXCEEDED.name(), error, true);
        recordGivenUp(run, stage, stall);
        stageFailed(run, stage, stall, null, true);
    }

    /**
     * Writes a FAILED {@code stage.json} for an attempt given up on, unless its worker recorded a result first. Workers
     * answer a request whose {@code stage.json} exists from it (duplicate delivery), so when Kafka hands the silent
     * worker's uncommitted request to another worker, that copy is not run again beside the next attempt; and a
     * worker that was only cut off finds it before uploading and keeps its output out. Best effort: without it, the
     * copy runs and its result is ignored as stale.
     */
    private void recordGivenUp(RunState run, StageStatus stage, StageResult.Error error) {
        String key = request(run, stage.index()).outputPrefix() + StageWorker.STAGE_JSON;
        try {
            if (artifacts.getJson(key, StageResult.class).isEmpty()) {
                artifacts.putJson(key, new StageResult(run.runId(), stage.index(), stage.attempt(), stage.type(),
                        StageResult.Status.FAILED, stage.progress(), error.message(), null, null,
                        new StageResult.Error(error.code(), error.message() + "; given up by the orchestrator", false),
                        GIVEN_UP_BY, null, now()));
            }
        } catch (ModelPressException e) {
            LOG.warnf("Run %s: cannot record that stage %d attempt %d was given up (%s); a redelivered copy of its request "
                    + "may run again, and its result will be ignored", run.runId(), stage.index(), stage.attempt(), e.getMessage());
        }
    }

    private static String seconds(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + " s" : duration.toMillis() / 1000.0 + " s";
    }

    private static boolean inFlight(StageStatus stage) {
        return stage.status().inFlight();
    }

    // ---------------------------------------------------------------- restart

    /**
     * After the state was read back: requests that were queued (QUEUED or STALLED) but may never have reached the
     * broker are published again under the same attempt (workers recognise a repeated attempt by its output keys and
     * answer without recomputing). Stages already RUNNING keep waiting for their result, their deadline, or a
     * stall-after without events counted from this start.
     */
    void resumeAfterRestart() {
        for (RunState run : store.all()) {
            if (run.state() != State.RUNNING) {
                continue;
            }
            synchronized (store.lock(run.runId())) {
                for (StageStatus stage : run.stages()) {
                    if (stage.status() == StageStatusValue.QUEUED || stage.status() == StageStatusValue.STALLED) {
                        dispatcher.send(request(run, stage.index()));
                    }
                }
            }
        }
        metrics.restored(now());
    }

    // ---------------------------------------------------------------- helpers

    /** Persists a run's new state, then makes it current (and visible to watchers and metrics). */
    private void save(RunState next) {
        RunState previous = store.get(next.runId()).orElse(null);
        runLog.append(next);
        store.put(next);
        metrics.changed(previous, next, next.updatedAt());
        if (next.state().terminal()) {
            recipes.remove(next.runId());
            candidates.remove(next.runId());
            heard.keySet().removeIf(attempt -> attempt.runId().equals(next.runId()));
        }
    }

    private Instant now() {
        return clock.instant();
    }

    static String describe(ModelPressException e) {
        return e.code().name() + ": " + e.getMessage();
    }
}
