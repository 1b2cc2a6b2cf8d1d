package io.modelpress.core.report;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.recipe.StageSpec;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one run of a recipe did to a model: report.json, written the same way by the in-process compressor (CLI
 * {@code modelpress compress}) and by the pipeline's orchestrator, read by the CLI's printer, rendered as report.html.
 * docs/report.md describes every field; {@link RunReports} writes and reads it (snake_case keys, every key always
 * present, null where a value is unknown, not measured or NaN).
 *
 * <p>Build one with {@link #assemble}, from {@link Stage#of} entries: the summary parts (size, evaluation, gate, notes,
 * timings) are derived from the stages in one place, so both writers give the same report for the same recipe.
 *
 * @param schemaVersion {@link #SCHEMA_VERSION}; raised only when a field is removed, renamed or changes meaning
 * @param evaluation    the last evaluation stage's measurements against the input model, or null when no stage evaluated
 * @param gate          {@value #PASSED}, {@value #FAILED}, or {@value #NONE} when no stage set a quality gate
 * @param gateFailure   the first failed gate, as "label: why" (e.g. "02-eval: min_cosine = 0.9500, below the limit
 *                      0.9800"), or null
 * @param notes         what the reader should know about the run as a whole (a final evaluation appended, a stage that
 *                      left the model unchanged); the evaluation's own notes are in {@code evaluation.notes}
 * @param tuning        the candidates of accuracy-aware tuning when the recipe's own missed its gate and the recipe
 *                      tunes, else null; {@code stages}, {@code output} and the summary are then the chosen candidate's
 */
public record RunReport(int schemaVersion, Run run, RecipeRef recipe, ModelRef input, ModelRef output, Size size,
                        List<Stage> stages, Evaluation evaluation, String gate, String gateFailure, Timings timings,
                        List<String> notes, Tuning tuning) {
    public static final int SCHEMA_VERSION = 1;
    /** The run id of an in-process run (no pipeline, no run id). */
    public static final String LOCAL_RUN = "local";
    public static final String PASSED = "passed";
    public static final String FAILED = "failed";
    public static final String NONE = "none";
    /** Run and stage states, as the pipeline names them. */
    public static final String SUCCEEDED_STATE = "SUCCEEDED";
    public static final String FAILED_STATE = "FAILED";
    /** A stage's result came from the result cache. */
    public static final String CACHE_HIT = "hit";
    /** A stage's result was computed and stored in the result cache. */
    public static final String CACHE_STORED = "stored";

    public RunReport {
        stages = stages == null ? List.of() : List.copyOf(stages);
        notes = notes == null ? List.of() : List.copyOf(notes);
    }

    /**
     * @param id     the pipeline's run id, or {@value #LOCAL_RUN} for an in-process run
     * @param name   the model's name (its folder under incoming/, the upload's name, or the file name without .onnx)
     * @param source where the model came from: its incoming/ key, "api", or "cli"
     * @param state  SUCCEEDED, or FAILED (in-process: a quality gate failed; the outputs are written all the same)
     * @param error  why it failed, else null
     */
    public record Run(String id, String name, String source, String state, String error) {
    }

    /**
     * @param source where the recipe came from: "built-in:&lt;name&gt;", "file" (CLI), "sibling", "bucket-default", "api"
     * @param yaml   the recipe text as given (a final evaluation appended to it is listed in stages, not here)
     */
    public record RecipeRef(String name, String source, String yaml) {
    }

    /**
     * A model file.
     *
     * @param location a file path (in-process) or {@code s3://bucket/key} (pipeline)
     * @param bytes    its size; in-process the .onnx file plus its external data files
     * @param sha256   hex SHA-256 of the .onnx file (external data files not included)
     */
    public record ModelRef(String location, long bytes, String sha256) {
    }

    /** @param compressionRatio input bytes / output bytes; null for an empty output */
    public record Size(long inputBytes, long outputBytes, long savedBytes, Double compressionRatio) {
        static Size of(long inputBytes, long outputBytes) {
            return new Size(inputBytes, outputBytes, inputBytes - outputBytes, outputBytes > 0 ? (double) inputBytes / outputBytes : null);
        }
    }

    /**
     * One stage of the run, in order.
     *
     * @param index      0-based position in the stages run
     * @param label      e.g. "01-quantize": the name of its work folder and pipeline keys
     * @param appended   true for the final evaluation added because the recipe has no eval stage
     * @param status     SUCCEEDED or FAILED (pipeline reports can also hold the pipeline's other stage states)
     * @param attempt    which attempt produced this entry (always 1 in-process)
     * @param durationMs from start to finish (pipeline: from the request of the last attempt), null when unknown
     * @param workerMs   where a pipeline worker's time went; null in-process
     * @param output     the model this stage produced (pipeline: its stage key; null in-process, where stage outputs
     *                   are temporary)
     * @param error      the stage's error (a failed gate has code GATE_FAILED), else null
     * @param gate       this stage's quality gate: {@value #PASSED}, {@value #FAILED} or {@value #NONE}
     * @param gateChecks each limit checked, in order ({@code or} limits prefixed "or.")
     * @param report     the stage's own report as it wrote it (quantization per node, evaluation metrics, ...)
     * @param cache      the result cache: {@value #CACHE_HIT} (reused, not computed; its durations are this run's, the
     *                   report is the one stored), {@value #CACHE_STORED} (computed and kept), or null (no cache)
     */
    public record Stage(int index, String label, String type, boolean appended, String status, int attempt, String startedAt,
                        String finishedAt, Long durationMs, WorkerTimings workerMs, ModelRef output, StageError error,
                        String gate, List<GateCheck> gateChecks, JsonNode report, String cache) {
        public Stage {
            gateChecks = gateChecks == null ? List.of() : List.copyOf(gateChecks);
            report = JsonValues.normalized(report);
        }

        /** An entry with its label, duration and gate derived from the rest. */
        public static Stage of(int index, String type, boolean appended, String status, int attempt, Instant startedAt,
                               Instant finishedAt, WorkerTimings workerMs, ModelRef output, StageError error, JsonNode report) {
            Long durationMs = startedAt == null || finishedAt == null ? null : Duration.between(startedAt, finishedAt).toMillis();
            List<GateCheck> checks = new ArrayList<>();
            if (report != null) {
                for (JsonNode check : report.path("gate_checks")) {
                    checks.add(new GateCheck(check.path("name").asText(), JsonValues.number(check.get("limit")),
                            JsonValues.number(check.get("value")), check.path("passed").asBoolean()));
                }
            }
            boolean failed = (error != null && ErrorCode.GATE_FAILED.name().equals(error.code()))
                    || (report != null && FAILED.equals(report.path("gate").asText()));
            // a stage report from before "none" existed said "passed" without checks: no checks is no gate
            String gate = failed ? FAILED : checks.isEmpty() ? NONE : PASSED;
            return new Stage(index, StageSpec.label(index, type), type, appended, status, attempt, text(startedAt),
                    text(finishedAt), durationMs, workerMs, output, error, gate, checks, report, null);
        }

        /** The same entry with its cache use, {@value #CACHE_HIT} or {@value #CACHE_STORED}. */
        public Stage withCache(String use) {
            return new Stage(index, label, type, appended, status, attempt, startedAt, finishedAt, durationMs, workerMs, output,
                    error, gate, gateChecks, report, use);
        }
    }

    /** Milliseconds a pipeline worker spent downloading inputs, running the stage and uploading its output. */
    public record WorkerTimings(long download, long run, long upload) {
    }

    /** @param code an {@link ErrorCode} name */
    public record StageError(String code, String message) {
    }

    /**
     * One limit of a quality gate.
     *
     * @param value what was measured; null when it could not be measured or was NaN (either fails the limit)
     */
    public record GateCheck(String name, Double limit, Double value, boolean passed) {
    }

    /**
     * The last evaluation of the run: the output model measured against the input model, on the run's data (seeded
     * synthetic inputs without data; the notes say so). Values the evaluation did not measure are null, and so are NaN
     * values (an output that held NaN or infinite values: {@code non_finite_values} counts them).
     *
     * @param stage          the index of the eval stage it comes from
     * @param inputAccuracy  the input model's accuracy on the same samples
     * @param agreement      fraction of samples where the output model gives the input model's top-1 answer
     * @param cosine         per model output: cosine similarity to the input model's output per sample, mean and
     *                       worst (for [batch, tokens, hidden] outputs of text: the mask-weighted mean over tokens)
     * @param qualityDelta   output minus input, 0 = no loss, negative = worse: {@code accuracy} (accuracy -
     *                       input_accuracy), {@code agreement} (agreement - 1), {@code cosine} (lowest mean cosine -
     *                       1); a key is present when measured, and null when it is NaN
     * @param latencyMs      the output model's latency, at batch 1 and at the evaluation batch
     * @param inputLatencyMs the input model's, timed in the same session pairs
     * @param latencyVsInput the verdicts: faster, slower or no measurable difference, and the ratio behind them
     * @param nonFiniteValues per output that held NaN or infinite values: how many (empty when none did)
     * @param notes          the evaluation's notes; warnings start with "warning:"
     */
    public record Evaluation(int stage, Long samples, Double accuracy, Double inputAccuracy, Double agreement,
                             Map<String, Cosine> cosine, Map<String, Double> qualityDelta, Latencies latencyMs,
                             Latencies inputLatencyMs, Verdicts latencyVsInput, Map<String, Long> nonFiniteValues,
                             List<String> notes) {
        public Evaluation {
            cosine = ordered(cosine);
            qualityDelta = ordered(qualityDelta);
            nonFiniteValues = ordered(nonFiniteValues);
            notes = notes == null ? List.of() : List.copyOf(notes);
        }

        /** The summary of an eval stage's report (core's EvaluationReport JSON plus the gate keys). */
        public static Evaluation of(int stage, JsonNode report) {
            Double accuracy = JsonValues.number(report.get("accuracy"));
            Double inputAccuracy = JsonValues.number(report.get("reference_accuracy"));
            Double agreement = JsonValues.number(report.get("agreement"));
            Map<String, Cosine> cosine = new LinkedHashMap<>();
            Map<String, Double> delta = new LinkedHashMap<>();
            if (report.path("accuracy").isNumber() && report.path("reference_accuracy").isNumber()) {
                delta.put("accuracy", accuracy - inputAccuracy);
            }
            if (report.has("agreement")) {
                delta.put("agreement", agreement == null ? null : agreement - 1);
            }
            boolean nan = false;
            Double lowest = null;
            for (Map.Entry<String, JsonNode> output : report.path("outputs").properties()) {
                JsonNode c = output.getValue().get("cosine");
                if (c == null || !c.isObject()) {
                    continue;
                }
                Cosine entry = new Cosine(JsonValues.number(c.get("mean")), JsonValues.number(c.get("min")));
                cosine.put(output.getKey(), entry);
                if (entry.mean() == null) {
                    nan = true; // a NaN cosine must not read as no loss, nor disappear
                } else if (lowest == null || entry.mean() < lowest) {
                    lowest = entry.mean();
                }
            }
            if (!cosine.isEmpty()) {
                delta.put("cosine", nan ? null : lowest - 1);
            }
            Map<String, Long> nonFinite = new LinkedHashMap<>();
            report.path("non_finite_values").properties().forEach(e -> nonFinite.put(e.getKey(), e.getValue().asLong()));
            List<String> notes = new ArrayList<>();
            report.path("notes").forEach(n -> notes.add(n.asText()));
            return new Evaluation(stage, report.path("samples").isNumber() ? report.get("samples").asLong() : null,
                    accuracy, inputAccuracy, agreement, cosine, delta, Latencies.of(report.get("latency_ms")),
                    Latencies.of(report.get("reference_latency_ms")), Verdicts.of(report.get("latency_vs_reference")),
                    nonFinite, notes);
        }
    }

    /** @param min the worst sample's cosine */
    public record Cosine(Double mean, Double min) {
    }

    /** Latency at batch 1 and at the evaluation's batch size; either null when not measured. */
    public record Latencies(@JsonProperty("batch_1") Latency batch1, @JsonProperty("batch_N") Latency batchN) {
        static Latencies of(JsonNode node) {
            if (node == null || !node.isObject()) {
                return null;
            }
            return new Latencies(Latency.of(node.get("batch_1"), 1), Latency.of(node.get("batch_N"), 0));
        }
    }

    /** Milliseconds per run of one batch over the timed runs: median, 95th percentile and mean. */
    public record Latency(int batch, Double p50, Double p95, Double mean) {
        static Latency of(JsonNode node, int batch) {
            if (node == null || !node.isObject()) {
                return null;
            }
            return new Latency(node.has("batch") ? node.get("batch").asInt() : batch, JsonValues.number(node.get("p50")),
                    JsonValues.number(node.get("p95")), JsonValues.number(node.get("mean")));
        }
    }

    /** The latency verdicts at batch 1 and at the evaluation's batch size; either null when not timed. */
    public record Verdicts(@JsonProperty("batch_1") Verdict batch1, @JsonProperty("batch_N") Verdict batchN) {
        static Verdicts of(JsonNode node) {
            if (node == null || !node.isObject()) {
                return null;
            }
            return new Verdicts(Verdict.of(node.get("batch_1"), 1), Verdict.of(node.get("batch_N"), 0));
        }
    }

    /**
     * The output model's time against the input model's at one batch size (see docs/cli.md, evaluate).
     *
     * @param ratio    output time / input time, the median over session pairs; above 1 is slower
     * @param ratioMin its lowest value over the pairs
     * @param ratioMax its highest
     * @param pairs    session pairs timed
     * @param verdict  "faster", "slower" or "no measurable difference"
     * @param text     the same in words, e.g. "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)"
     */
    public record Verdict(int batch, Double ratio, Double ratioMin, Double ratioMax, Integer pairs, String verdict, String text) {
        static Verdict of(JsonNode node, int batch) {
            if (node == null || !node.isObject()) {
                return null;
            }
            return new Verdict(node.has("batch") ? node.get("batch").asInt() : batch, JsonValues.number(node.get("ratio")),
                    JsonValues.number(node.get("ratio_min")), JsonValues.number(node.get("ratio_max")),
                    node.has("pairs") ? node.get("pairs").asInt() : null, JsonValues.text(node.get("verdict")), JsonValues.text(node.get("text")));
        }
    }

    /**
     * @param startedAt  when the run started (pipeline: when it was created, input copying included)
     * @param durationMs from start to finish
     * @param stagesMs   the stages' durations added up
     */
    public record Timings(String startedAt, String finishedAt, Long durationMs, long stagesMs) {
    }

    /**
     * Accuracy-aware tuning ({@code tuning: on_gate_failure: tune}): every candidate tried, which one the run kept and why
     * it stopped. The candidates and their order come from the recipe alone ({@code core.tune.Candidates}).
     *
     * @param strategy    backoff, fallback or search
     * @param maxAttempts candidates allowed in all, the recipe's own included
     * @param timeBudget  the run's time budget, e.g. "PT10M"
     * @param outcome     {@value #GOAL_MET} (the output is a candidate that passed its gate) or {@value #GOAL_NOT_MET}
     *                    (none passed; the output is the candidate closest to passing)
     * @param chosen      the number of the candidate whose model is the run's output
     * @param stoppedBy   why no further candidate was tried: "a candidate passed" (backoff, fallback), "every candidate
     *                    tried", or "time budget"
     * @param candidates  in the order tried
     */
    public record Tuning(String strategy, int maxAttempts, String timeBudget, String outcome, int chosen, String stoppedBy,
                         List<Candidate> candidates) {
        public static final String GOAL_MET = "goal met";
        public static final String GOAL_NOT_MET = "goal not met";
        public static final String PASSED_STOP = "a candidate passed";
        public static final String ALL_TRIED = "every candidate tried";
        public static final String TIME_BUDGET = "time budget";

        public Tuning {
            candidates = candidates == null ? List.of() : List.copyOf(candidates);
        }

        /**
         * The tuning section from the candidates run: marks the Pareto front (no other candidate smaller and at least as
         * good, or as small and better) and the chosen one - with a passing candidate, the first passing (backoff and
         * fallback try the most compressed first) or, for search, the smallest passing; without one, the one whose gate
         * came closest (smallest {@link Candidate#shortfall}).
         */
        public static Tuning of(String strategy, int maxAttempts, String timeBudget, String stoppedBy, List<Candidate> tried) {
            if (tried.isEmpty()) {
                throw new IllegalArgumentException("tuning without candidates");
            }
            Candidate best = null;
            for (Candidate c : tried) {
                if (!FAILED.equals(c.gate()) && (best == null || "search".equals(strategy) && smaller(c, best))) {
                    best = c;
                }
            }
            boolean met = best != null;
            if (!met) {
                for (Candidate c : tried) {
                    if (best == null || shortfall(c) < shortfall(best)) {
                        best = c;
                    }
                }
            }
            List<Candidate> marked = new ArrayList<>();
            for (Candidate c : tried) {
                boolean pareto = tried.stream().noneMatch(o -> o != c && dominates(o, c));
                marked.add(c.marked(pareto, c.number() == best.number()));
            }
            return new Tuning(strategy, maxAttempts, timeBudget, met ? GOAL_MET : GOAL_NOT_MET, best.number(), stoppedBy, marked);
        }

        /** The chosen candidate. */
        public Candidate chosenCandidate() {
            return candidates.stream().filter(c -> c.number() == chosen).findFirst().orElseThrow();
        }

        /** One line for the run's notes. */
        public String summary() {
            Candidate c = chosenCandidate();
            return String.format(java.util.Locale.ROOT, "tuning (%s): %s after %d candidate%s (%s); the output is candidate %d%s",
                    strategy, outcome, candidates.size(), candidates.size() == 1 ? "" : "s", stoppedBy, c.number(),
                    c.changes().isEmpty() ? ", the recipe's own settings" : " (" + String.join("; ", c.changes()) + ")");
        }

        private static boolean smaller(Candidate a, Candidate b) {
            long sa = a.output() == null ? Long.MAX_VALUE : a.output().bytes();
            long sb = b.output() == null ? Long.MAX_VALUE : b.output().bytes();
            return sa < sb || sa == sb && quality(a) > quality(b);
        }

        private static boolean dominates(Candidate a, Candidate b) {
            if (a.output() == null || b.output() == null) {
                return false;
            }
            long sa = a.output().bytes();
            long sb = b.output().bytes();
            double qa = quality(a);
            double qb = quality(b);
            return sa <= sb && qa >= qb && (sa < sb || qa > qb);
        }

        private static double quality(Candidate c) {
            return c.quality() == null ? Double.NEGATIVE_INFINITY : c.quality();
        }

        private static double shortfall(Candidate c) {
            return c.shortfall() == null ? Double.POSITIVE_INFINITY : c.shortfall();
        }
    }

    /**
     * One candidate of tuning.
     *
     * @param number        1 for the recipe's own settings, then in the order tried
     * @param changes       its changes from the recipe, e.g. "01-quantize: keep_float 0 -> 2 (...)"
     * @param reusedStages  leading stages whose models it shares with an earlier candidate (same settings), not run again
     * @param stages        its stages, the reused ones included
     * @param output        its model (in-process: under candidates/ in the output folder; pipeline: the stage key)
     * @param gate          {@value #PASSED}, {@value #FAILED} or {@value #NONE}; a tuning candidate whose stages all left
     *                      the model unchanged counts as failed (it compresses nothing)
     * @param gateFailure   the first failed limit, or null
     * @param shortfall     how far the gate was missed: per failed limit |value - limit| / max(|limit|, 1), summed
     *                      over the closer of the gate's two branches; 0 when it passed; null when a value could not be
     *                      measured or the candidate compressed nothing
     * @param qualityMetric which quality delta {@code quality} is: accuracy, agreement or cosine (the first measured)
     * @param quality       the last evaluation's quality delta of that metric (0 = no loss, negative = worse)
     * @param latencyRatio  the last evaluation's latency ratio to the input model (batch N, else batch 1), null when not timed
     * @param durationMs    the time its own stages took (reused stages not counted)
     * @param pareto        on the Pareto front of output bytes against quality among the candidates
     * @param chosen        the run's output
     */
    public record Candidate(int number, List<String> changes, int reusedStages, List<Stage> stages, ModelRef output,
                            String gate, String gateFailure, Double shortfall, String qualityMetric, Double quality,
                            Double latencyRatio, Long durationMs, boolean pareto, boolean chosen) {
        public Candidate {
            changes = changes == null ? List.of() : List.copyOf(changes);
            stages = stages == null ? List.of() : List.copyOf(stages);
        }

        /** A candidate's entry from its stages; gate, shortfall, quality and latency are derived from them. */
        public static Candidate of(int number, List<String> changes, int reusedStages, List<Stage> stages, ModelRef output) {
            Outcome outcome = Outcome.of(stages);
            String gate = outcome.gate();
            String gateFailure = outcome.gateFailure();
            Evaluation evaluation = outcome.evaluation();
            Double shortfall = 0.0;
            long durationMs = 0;
            for (Stage stage : stages) {
                if (stage.gate().equals(FAILED)) {
                    Double missed = shortfall(stage.gateChecks());
                    shortfall = shortfall == null || missed == null ? null : shortfall + missed;
                }
                if (stage.index() >= reusedStages && stage.durationMs() != null) {
                    durationMs += stage.durationMs();
                }
            }
            boolean changesSomething = stages.stream().anyMatch(s -> !s.type().equals("eval")
                    && (s.report() == null || !s.report().path("unchanged").asBoolean()));
            if (number > 1 && !changesSomething) {
                // tuning that backs off until nothing is compressed has not met the goal, it has given up on it: such a
                // candidate neither passes nor is the closest one
                gate = FAILED;
                gateFailure = "no stage changed the model (each left it unchanged), so it is no compressed candidate"
                        + (gateFailure == null ? "" : "; " + gateFailure);
                shortfall = null;
            }
            String metric = null;
            Double quality = null;
            Double latency = null;
            if (evaluation != null) {
                for (String key : List.of("accuracy", "agreement", "cosine")) {
                    if (evaluation.qualityDelta().containsKey(key)) {
                        metric = key;
                        quality = evaluation.qualityDelta().get(key);
                        break;
                    }
                }
                Verdicts verdicts = evaluation.latencyVsInput();
                if (verdicts != null) {
                    Verdict v = verdicts.batchN() != null && verdicts.batchN().ratio() != null ? verdicts.batchN() : verdicts.batch1();
                    latency = v == null ? null : v.ratio();
                }
            }
            return new Candidate(number, changes, reusedStages, stages, output, gate, gateFailure, shortfall, metric, quality,
                    latency, durationMs, false, false);
        }

        Candidate marked(boolean onFront, boolean isChosen) {
            return new Candidate(number, changes, reusedStages, stages, output, gate, gateFailure, shortfall, qualityMetric,
                    quality, latencyRatio, durationMs, onFront, isChosen);
        }

        /** The closer branch's summed relative misses (the gate's own limits, or those under "or"). */
        private static Double shortfall(List<GateCheck> checks) {
            Double best = null;
            boolean anyBranch = false;
            for (boolean or : new boolean[] {false, true}) {
                double sum = 0;
                boolean seen = false;
                boolean unmeasured = false;
                for (GateCheck check : checks) {
                    if (check.name().startsWith("or.") != or) {
                        continue;
                    }
                    seen = true;
                    if (check.passed()) {
                        continue;
                    }
                    if (check.value() == null || check.limit() == null) {
                        unmeasured = true;
                    } else {
                        // relative to limits above 1 (a compression ratio), absolute below (cosine, points near 0)
                        sum += Math.abs(check.value() - check.limit()) / Math.max(Math.abs(check.limit()), 1);
                    }
                }
                if (seen) {
                    anyBranch = true;
                    if (!unmeasured && (best == null || sum < best)) {
                        best = sum;
                    }
                }
            }
            return anyBranch ? best : null;
        }
    }

    /**
     * A report from its parts; size, evaluation, gate, gate failure, notes and timings are derived from them.
     *
     * @param stages the stages run, in order
     */
    public static RunReport assemble(Run run, RecipeRef recipe, ModelRef input, ModelRef output, List<Stage> stages,
                                     Instant startedAt, Instant finishedAt) {
        return assemble(run, recipe, input, output, stages, startedAt, finishedAt, null);
    }

    /**
     * A report of a run that tuned: {@code stages} and {@code output} are the chosen candidate's ({@link Tuning#chosen}).
     *
     * @param tuning null when the run did not tune
     */
    public static RunReport assemble(Run run, RecipeRef recipe, ModelRef input, ModelRef output, List<Stage> stages,
                                     Instant startedAt, Instant finishedAt, Tuning tuning) {
        Outcome outcome = Outcome.of(stages);
        long stagesMs = 0;
        List<String> notes = new ArrayList<>();
        for (Stage stage : stages) {
            if (stage.durationMs() != null) {
                stagesMs += stage.durationMs();
            }
            if (stage.appended()) {
                notes.add("the recipe has no eval stage: " + stage.label() + ", an evaluation with default settings, was "
                        + "appended so that the report compares the output with the input");
            }
            if (stage.report() != null && stage.report().path("unchanged").asBoolean()) {
                JsonNode why = stage.report().path("notes").get("result");
                notes.add(stage.label() + " left the model unchanged" + (why == null ? "" : ": " + why.asText()));
            }
        }
        if (tuning != null) {
            notes.add(tuning.summary());
            stagesMs = tuning.candidates().stream().mapToLong(c -> c.durationMs() == null ? 0 : c.durationMs()).sum();
        }
        Long durationMs = startedAt == null || finishedAt == null ? null : Duration.between(startedAt, finishedAt).toMillis();
        return new RunReport(SCHEMA_VERSION, run, recipe, input, output, Size.of(input.bytes(), output.bytes()), stages,
                outcome.evaluation(), outcome.gate(), outcome.gateFailure(), new Timings(text(startedAt), text(finishedAt), durationMs, stagesMs), notes, tuning);
    }

    /**
     * What stages add up to: the last evaluation, the gate ({@value #FAILED} when any stage's failed, else {@value #PASSED}
     * when any passed, else {@value #NONE}) and the first failure as "label: why".
     */
    private record Outcome(Evaluation evaluation, String gate, String gateFailure) {
        static Outcome of(List<Stage> stages) {
            Evaluation evaluation = null;
            String gate = NONE;
            String gateFailure = null;
            for (Stage stage : stages) {
                if (stage.type().equals("eval") && stage.report() != null && stage.report().isObject()) {
                    evaluation = Evaluation.of(stage.index(), stage.report());
                }
                if (stage.gate().equals(FAILED)) {
                    if (gateFailure == null) {
                        gateFailure = stage.label() + ": " + (stage.error() != null ? stage.error().message() : "the gate failed");
                    }
                    gate = FAILED;
                } else if (stage.gate().equals(PASSED) && gate.equals(NONE)) {
                    gate = PASSED;
                }
            }
            return new Outcome(evaluation, gate, gateFailure);
        }
    }

    private static String text(Instant instant) {
        return instant == null ? null : instant.toString();
    }

    private static <V> Map<String, V> ordered(Map<String, V> map) {
        return map == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(map));
    }
}
