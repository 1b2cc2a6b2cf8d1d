package io.modelpress.pipeline.worker;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.pipeline.Retry;
import io.modelpress.pipeline.Topics;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.StageRequest;
import io.modelpress.pipeline.events.StageResult;
import io.modelpress.pipeline.metrics.MetricNames.Outcome;
import io.modelpress.pipeline.metrics.StageMetrics;
import io.modelpress.pipeline.store.ArtifactStore;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Runs stage requests: the part every stage worker shares, whatever its stage and its messaging framework.
 *
 * <p>For one request: if the attempt's {@code stage.json} exists, its result is re-published and nothing runs
 * (duplicate delivery). Otherwise the inputs are downloaded into a private temporary folder and verified, the stage
 * runs (PROGRESS events at most once per progress interval, and at least once per heartbeat interval while the
 * attempt lasts), the output model and {@code stage.json} are uploaded under
 * {@link StageRequest#outputPrefix()}, and exactly one final result is published: SUCCEEDED, or FAILED with an
 * error {code, message, retryable}. Permanent errors fail at once; transient ones are retried per step with
 * backoff, then the request goes to the dead-letter topic and the result is FAILED (retryable=false). The folder
 * is removed however the attempt ends. A request of a stage type this worker is not configured for
 * ({@link WorkerSettings#stageTypes()}) is refused at once with a FAILED result that says so. See pipeline/README.md.
 *
 * <p>Thread-safe: it keeps no per-request state. The services hand it one request at a time per replica, because a
 * stage uses all the threads it is given.
 */
public final class StageWorker {
    /** File names under an attempt's output prefix. */
    public static final String STAGE_JSON = "stage.json";
    public static final String MODEL_ONNX = "model.onnx";
    /** A stage report's {@code cache} value when the result came from the result cache. */
    static final String RESULT_CACHE_HIT = "hit";

    private static final System.Logger LOG = System.getLogger(StageWorker.class.getName());

    private final ArtifactStore store;
    private final ResultPublisher results;
    private final DeadLetterPublisher deadLetters;
    private final StageMetrics metrics;
    private final WorkerSettings settings;
    private final Function<String, Stage> stages;
    /** The shared result cache, or null when switched off. */
    private final ResultCache cache;

    public StageWorker(ArtifactStore store, ResultPublisher results, DeadLetterPublisher deadLetters, StageMetrics metrics,
                       WorkerSettings settings) {
        this(store, results, deadLetters, metrics, settings, Stages::forType);
    }

    /** @param stages finds the stage for a request's type ({@link Stages#forType} in services) */
    public StageWorker(ArtifactStore store, ResultPublisher results, DeadLetterPublisher deadLetters, StageMetrics metrics,
                       WorkerSettings settings, Function<String, Stage> stages) {
        this.store = store;
        this.results = results;
        this.deadLetters = deadLetters;
        this.metrics = metrics;
        this.settings = settings;
        this.stages = stages;
        this.cache = settings.cacheMaxBytes() > 0 ? new ResultCache(store, settings.cacheMaxBytes()) : null;
    }

    /**
     * Handles one record from {@code Topics.stage(topicStageType)}. A record that is not a usable StageRequest
     * (bad JSON, no run id) cannot be answered with a result: it goes to the dead-letter topic, and the answer is
     * empty.
     *
     * @throws ModelPressException only when neither a result nor a dead letter could be published (the broker is
     *                             unreachable past the retries): the record should then be redelivered
     */
    public Optional<StageResult> handle(String topicStageType, String key, byte[] value) {
        StageRequest request;
        try {
            request = Json.read(value, StageRequest.class);
            requireAddressable(request);
        } catch (ModelPressException e) {
            String reason = "not a usable StageRequest: " + e.getMessage();
            LOG.log(System.Logger.Level.WARNING, "record with key {0} on {1}: {2}", key, Topics.stage(topicStageType), reason);
            retry(topicStageType, "dead-letter", () -> {
                deadLetters.publish(topicStageType, key, value, reason);
                return null;
            });
            metrics.deadLettered(topicStageType);
            return Optional.empty();
        }
        if (!topicStageType.equals(request.stageType())) {
            ModelPressException misrouted = new ModelPressException(ErrorCode.BAD_ARGUMENT, "stage_type",
                    "a '" + request.stageType() + "' request arrived on " + Topics.stage(topicStageType)
                            + "; stage requests belong on " + Topics.stage(request.stageType()));
            StageResult result = failed(request, misrouted.getMessage(), misrouted.code(), new Timings());
            publishFinal(result);
            metrics.finished(topicStageType, Outcome.FAILED, Duration.ZERO);
            return Optional.of(result);
        }
        return Optional.of(handle(request));
    }

    /**
     * Handles one request and returns the final result it published.
     *
     * @throws ModelPressException only when the result could not be published past the retries (broker
     *                             unreachable): the request should then be redelivered
     */
    public StageResult handle(StageRequest request) {
        requireAddressable(request);
        String stage = request.stageType();
        long started = System.nanoTime();
        Timings timings = new Timings();
        StageResult result;
        Outcome outcome;
        if (!settings.stageTypes().contains(stage)) {
            // not recorded in stage.json: a worker that runs this type must still be able to run the attempt
            result = failed(request, "this worker (" + settings.workerId() + ") runs only stage types " + String.join(", ", settings.stageTypes())
                    + ", not '" + stage + "': such requests are for workers whose modelpress.worker.stage-types include it, on "
                    + Topics.stage(stage), ErrorCode.BAD_ARGUMENT, timings);
            outcome = Outcome.FAILED;
        } else if (request.deadline() != null && Instant.now().isAfter(request.deadline())) {
            result = failed(request, "deadline: passed at " + request.deadline() + ", before the stage started;"
                    + " the orchestrator has given up on attempt " + request.attempt(), ErrorCode.LIMIT_EXCEEDED, timings);
            outcome = Outcome.EXPIRED;
        } else {
            try {
                Optional<StageResult> previous = finishedBefore(request);
                if (previous.isPresent()) {
                    LOG.log(System.Logger.Level.INFO, "{0}: finished before ({1}); re-publishing its result", describe(request), previous.get().status());
                    metrics.duplicate(stage);
                    publishFinal(previous.get());
                    return previous.get();
                }
                result = execute(request, timings);
                outcome = result.status() == StageResult.Status.SUCCEEDED ? Outcome.SUCCEEDED : Outcome.GATE_FAILED;
            } catch (AlreadyFinished duplicate) {
                metrics.duplicate(stage);
                publishFinal(duplicate.result);
                return duplicate.result;
            } catch (ModelPressException e) {
                if (e.permanent()) {
                    result = failed(request, e.getMessage(), e.code(), timings);
                    recordQuietly(request, result);
                    outcome = Outcome.FAILED;
                } else {
                    String reason = "gave up after " + settings.retry().maxAttempts() + " attempts: " + e.getMessage();
                    retry(stage, "dead-letter", () -> {
                        deadLetters.publish(stage, request.runId(), Json.write(request), reason);
                        return null;
                    });
                    metrics.deadLettered(stage);
                    result = failed(request, reason, e.code(), timings);
                    outcome = Outcome.DEAD_LETTERED;
                }
            }
        }
        publishFinal(result);
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        metrics.finished(stage, outcome, elapsed);
        LOG.log(outcome == Outcome.SUCCEEDED ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                "{0}: {1} in {2} ms (download {3} ms, run {4} ms, upload {5} ms){6}", describe(request), outcome.label(),
                elapsed.toMillis(), timings.downloadMs, timings.runMs, timings.uploadMs,
                result.error() == null ? "" : ": " + result.error().message());
        return result;
    }

    private StageResult execute(StageRequest request, Timings timings) {
        String stage = request.stageType();
        if (request.input() == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "input", "the request names no input model");
        }
        Stage implementation = stages.apply(stage);
        try (StageMetrics.Inflight ignored = metrics.started(stage);
             StageMetrics.Progress gauge = metrics.progress(request.runId(), stage);
             ProgressReporter progress = ProgressReporter.start(request, gauge, results, settings.workerId(),
                     settings.progressInterval(), settings.heartbeatInterval(), "downloading inputs");
             Workspace workspace = new Workspace(settings.tempDir(), "modelpress-" + request.runId() + "-" + request.stageIndex() + "-")) {
            StageSpec spec = new StageSpec(request.stageIndex(), stage, request.params());
            String cacheKey = cache == null || request.noCache() ? null : ResultCache.key(request, spec, implementation);
            if (cacheKey != null) {
                Optional<StageResult> hit = fromCache(request, cacheKey);
                if (hit.isPresent()) {
                    return hit.get();
                }
            }
            Map<Path, String> places = new LinkedHashMap<>();
            long t0 = System.nanoTime();
            Inputs inputs = download(request, workspace, places);
            timings.downloadMs = millisSince(t0);
            metrics.handoff(stage, "download", Duration.ofMillis(timings.downloadMs), inputs.bytes);

            StageContext context = new StageContext(spec, inputs.input, inputs.original, inputs.data, inputs.tokenizer,
                    workspace.work(), settings.threads(), progress);
            long t1 = System.nanoTime();
            StageOutcome outcome;
            try {
                outcome = retry(stage, "run", () -> {
                    workspace.resetWork();
                    return implementation.run(context);
                });
            } catch (ModelPressException e) {
                throw placed(e, request, places, workspace);
            } finally {
                timings.runMs = millisSince(t1);
            }

            long t2 = System.nanoTime();
            // a duplicate delivery may have run the same attempt meanwhile (e.g. after a rebalance): keep its output
            Optional<StageResult> concurrent = finishedBefore(request);
            if (concurrent.isPresent()) {
                throw new AlreadyFinished(concurrent.get());
            }
            ArtifactRef output = request.input();
            if (outcome.model() != null && !samePath(outcome.model(), inputs.input)) {
                String key = request.outputPrefix() + MODEL_ONNX;
                output = retry(stage, "upload", () -> store.put(key, outcome.model()));
                metrics.handoff(stage, "upload", Duration.ofNanos(System.nanoTime() - t2), output.bytes());
            }
            timings.uploadMs = millisSince(t2);
            metrics.modelBytes(request.runId(), StageSpec.label(request.stageIndex(), stage), output.bytes());

            if (cacheKey != null) {
                outcome.report().put("cache", "stored");
            }
            StageResult result = record(request, output, outcome.report(), outcome.gateFailure(), timings);
            if (cacheKey != null) {
                cache.put(cacheKey, output == request.input() ? null : output, outcome.report(), outcome.gateFailure());
                metrics.cache(stage, "stored");
            }
            return result;
        }
    }

    /** The attempt's final result, recorded as its stage.json: SUCCEEDED, or FAILED with GATE_FAILED. */
    private StageResult record(StageRequest request, ArtifactRef output, com.fasterxml.jackson.databind.node.ObjectNode report,
                               String gateFailure, Timings timings) {
        String stage = request.stageType();
        boolean hit = RESULT_CACHE_HIT.equals(report.path("cache").asText());
        StageResult result = gateFailure == null
                ? new StageResult(request.runId(), request.stageIndex(), request.attempt(), stage, StageResult.Status.SUCCEEDED,
                1.0, stage + (hit ? " answered from the result cache" : " finished"), output, report, null, settings.workerId(),
                timings.toEvent(), Instant.now())
                : new StageResult(request.runId(), request.stageIndex(), request.attempt(), stage, StageResult.Status.FAILED,
                1.0, gateFailure, output, report, new StageResult.Error(ErrorCode.GATE_FAILED.name(), gateFailure, false),
                settings.workerId(), timings.toEvent(), Instant.now());
        String recordKey = request.outputPrefix() + STAGE_JSON;
        retry(stage, "upload", () -> store.putJson(recordKey, result));
        return result;
    }

    /**
     * Answers an attempt from the result cache: the cached model copied to the attempt's output key on the server
     * (nothing downloaded, nothing run), its report marked {@code "cache": "hit"}. Empty on a miss.
     */
    private Optional<StageResult> fromCache(StageRequest request, String cacheKey) {
        String stage = request.stageType();
        Timings timings = new Timings();
        long t0 = System.nanoTime();
        Optional<ResultCache.Cached> cached;
        try {
            cached = cache.get(cacheKey);
        } catch (ModelPressException e) {
            LOG.log(System.Logger.Level.WARNING, "{0}: the result cache cannot be read ({1}); computing", describe(request), e.getMessage());
            return Optional.empty();
        }
        if (cached.isEmpty() || !(cached.get().report() instanceof com.fasterxml.jackson.databind.node.ObjectNode stored)) {
            metrics.cache(stage, "miss");
            return Optional.empty();
        }
        Optional<StageResult> concurrent = finishedBefore(request);
        if (concurrent.isPresent()) {
            throw new AlreadyFinished(concurrent.get());
        }
        ArtifactRef output = cached.get().passthrough() ? request.input()
                : retry(stage, "upload", () -> cache.copyModel(cacheKey, request.outputPrefix() + MODEL_ONNX));
        timings.uploadMs = millisSince(t0);
        com.fasterxml.jackson.databind.node.ObjectNode report = stored.deepCopy();
        report.put("cache", RESULT_CACHE_HIT);
        metrics.cache(stage, "hit");
        metrics.modelBytes(request.runId(), StageSpec.label(request.stageIndex(), stage), output.bytes());
        LOG.log(System.Logger.Level.INFO, "{0}: answered from the result cache", describe(request));
        return Optional.of(record(request, output, report, cached.get().gateFailure(), timings));
    }

    private record Inputs(Path input, Path original, List<Path> data, Path tokenizer, long bytes) {
    }

    private Inputs download(StageRequest request, Workspace workspace, Map<Path, String> places) {
        Path in = workspace.in();
        long[] bytes = {0};
        Function<ArtifactRef, Function<Path, Path>> fetch = ref -> target -> {
            Path file = retry(request.stageType(), "download", () -> store.get(ref, target));
            places.put(file, "s3://" + ref.bucket() + "/" + ref.key());
            bytes[0] += ref.bytes();
            return file;
        };
        Path input = fetch.apply(request.input()).apply(in.resolve("input").resolve(request.input().fileName()));
        Path original = input;
        if (request.original() != null && !request.original().equals(request.input())) {
            original = fetch.apply(request.original()).apply(in.resolve("original").resolve(request.original().fileName()));
        }
        List<Path> data = new ArrayList<>();
        for (int i = 0; i < request.data().size(); i++) {
            ArtifactRef ref = request.data().get(i);
            // one folder per file keeps each name (formats are told by extension) without collisions
            data.add(fetch.apply(ref).apply(in.resolve("data").resolve(Integer.toString(i)).resolve(ref.fileName())));
        }
        Path tokenizer = request.tokenizer() == null ? null
                : fetch.apply(request.tokenizer()).apply(in.resolve("tokenizer").resolve(request.tokenizer().fileName()));
        return new Inputs(input, original, data, tokenizer, bytes[0]);
    }

    private Optional<StageResult> finishedBefore(StageRequest request) {
        String key = request.outputPrefix() + STAGE_JSON;
        return retry(request.stageType(), "check", () -> store.getJson(key, StageResult.class)).filter(StageResult::isFinal);
    }

    /** Keeps a permanent failure's result, so a duplicate delivery re-publishes it instead of failing again slowly. */
    private void recordQuietly(StageRequest request, StageResult result) {
        try {
            store.putJson(request.outputPrefix() + STAGE_JSON, result);
        } catch (ModelPressException e) {
            LOG.log(System.Logger.Level.WARNING, "{0}: cannot record the failure: {1}", describe(request), e.getMessage());
        }
    }

    private void publishFinal(StageResult result) {
        retry(result.stageType(), "publish", () -> {
            results.publish(result);
            return null;
        });
    }

    private <T> T retry(String stage, String phase, Supplier<T> action) {
        return settings.retry().call(phase, action, (attempt, failure, wait) -> {
            metrics.retried(stage, phase);
            LOG.log(System.Logger.Level.WARNING, "{0} of stage {1} failed (try {2} of {3}), retrying in {4} ms: {5}",
                    phase, stage, attempt, settings.retry().maxAttempts(), wait.toMillis(), failure.getMessage());
        });
    }

    private StageResult failed(StageRequest request, String message, ErrorCode code, Timings timings) {
        return new StageResult(request.runId(), request.stageIndex(), request.attempt(), request.stageType(), StageResult.Status.FAILED,
                0, message, null, null, new StageResult.Error(code.name(), message, false), settings.workerId(),
                timings.toEvent(), Instant.now());
    }

    /**
     * Error messages name S3 objects, not this worker's temporary files: paths are replaced by the objects they
     * were downloaded from, and a message that names no object is prefixed with the stage's input.
     */
    private static ModelPressException placed(ModelPressException e, StageRequest request, Map<Path, String> places, Workspace workspace) {
        String message = e.getMessage();
        for (Map.Entry<Path, String> place : places.entrySet()) {
            message = message.replace(place.getKey().toString(), place.getValue());
        }
        message = message.replace(workspace.work().toString(), "<stage output>");
        if (!message.contains("s3://")) {
            message = request.stageType() + " of s3://" + request.input().bucket() + "/" + request.input().key() + " failed: " + message;
        }
        return new ModelPressException(e.code(), null, message, e);
    }

    private static void requireAddressable(StageRequest request) {
        if (request.runId() == null || request.runId().isBlank() || request.stageType() == null || request.stageType().isBlank()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "StageRequest", "needs run_id and stage_type");
        }
        if (request.stageIndex() < 0 || request.attempt() < 0) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "StageRequest",
                    "stage_index and attempt must not be negative, got " + request.stageIndex() + " and " + request.attempt());
        }
    }

    private static boolean samePath(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    private static String describe(StageRequest request) {
        return "run " + request.runId() + " stage " + StageSpec.label(request.stageIndex(), request.stageType())
                + " attempt " + request.attempt();
    }

    private static final class Timings {
        long downloadMs;
        long runMs;
        long uploadMs;

        StageResult.Timings toEvent() {
            return new StageResult.Timings(downloadMs, runMs, uploadMs);
        }
    }

    /** Another delivery of the same attempt finished first; its result is the answer. */
    private static final class AlreadyFinished extends RuntimeException {
        private final transient StageResult result;

        AlreadyFinished(StageResult result) {
            super(null, null, false, false);
            this.result = result;
        }
    }
}
