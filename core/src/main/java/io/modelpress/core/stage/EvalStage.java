package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.recipe.StageSpec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Evaluates the current model against the run's original model on the run's data (synthetic inputs when there is
 * none) and checks the recipe's quality gate. The model passes through unchanged.
 */
final class EvalStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        StageSpec spec = context.spec();
        List<String> metrics = spec.strings("metrics");
        boolean timed = metrics.contains("latency");
        EvaluationRequest request = EvaluationRequest.of(context.input(), context.evaluationData())
                .withDataOptions(DataOptions.DEFAULT.withTokenizer(context.tokenizer()).withLimit(spec.integer("samples"))
                        .withHints(StageContext.hintsOf(spec).overriddenBy(context.hints())))
                .withBatchSize((int) spec.integer("batch"))
                .withSession(SessionSettings.DEFAULT.withThreads(context.threads()))
                .withLatencyBudget(timed ? EvaluationRequest.DEFAULT_LATENCY_BUDGET : Duration.ZERO)
                .withProgress(done -> context.progress().progress(Math.min(0.9, done / (double) spec.integer("samples")),
                        done + " samples evaluated"));
        if (!context.input().equals(context.original())) {
            request = request.withReference(context.original());
        }
        EvaluationReport report = Evaluator.run(request);
        ObjectNode json = onlyRequested(report.toJson(), metrics);
        // file paths are the runner's private copies (a worker's temp folder): the run's records name the models
        json.remove("model");
        json.remove("reference");
        List<String> failures = checkGate(spec.object("gate"), report, json.putArray("gate_checks"));
        String failure = failures.isEmpty() ? null : String.join("; ", failures);
        json.put("gate", failure != null ? "failed" : spec.object("gate").isEmpty() ? "none" : "passed");
        context.progress().progress(1.0, "evaluated " + report.samples() + " samples");
        return new StageOutcome(context.input(), json, failure);
    }

    /** Keeps the report keys of the requested metrics (the gate still sees everything that was measured). */
    static ObjectNode onlyRequested(ObjectNode json, List<String> metrics) {
        Map<String, List<String>> keys = Map.of(
                "accuracy", List.of("accuracy", "reference_accuracy", "accuracy_output"),
                "agreement", List.of("agreement"),
                "latency", List.of("latency_ms", "throughput_per_s", "reference_latency_ms", "reference_throughput_per_s"),
                "size", List.of("file_bytes", "compressed_bytes", "reference_file_bytes", "reference_compressed_bytes"));
        keys.forEach((metric, names) -> {
            if (!metrics.contains(metric)) {
                names.forEach(json::remove);
            }
        });
        if (json.get("outputs") instanceof ObjectNode outputs) {
            Map<String, String> perOutput = Map.of("cosine", "cosine", "token_cosine", "cosine", "mse", "mse", "kl", "kl");
            outputs.forEach(output -> perOutput.forEach((key, metric) -> {
                if (!metrics.contains(metric) && output instanceof ObjectNode o) {
                    o.remove(key);
                }
            }));
        }
        return json;
    }

    /**
     * Checks the recipe's gate: every limit of at least one branch must hold, the branches being the gate's own limits
     * and those under {@code or} (a branch without limits does not count). A limit that cannot be measured, or measures
     * NaN, fails: a gate must never pass by default. Each checked limit is listed in {@code checks}; the {@code or}
     * limits are checked only when the gate's own fail.
     *
     * @return why the gate failed (one entry per failed limit; with both branches failed, one entry naming both),
     *         empty when it passed
     */
    @SuppressWarnings("unchecked")
    static List<String> checkGate(Map<String, Object> gate, EvaluationReport r, ArrayNode checks) {
        Map<String, Object> own = new java.util.LinkedHashMap<>(gate);
        Map<String, Object> alternative = (Map<String, Object>) own.remove("or");
        if (own.isEmpty() && alternative != null) {
            own = alternative;
            alternative = null;
        }
        List<String> failures = checkLimits(own, r, checks, "");
        if (failures.isEmpty() || alternative == null || alternative.isEmpty()) {
            return failures;
        }
        List<String> alternativeFailures = checkLimits(alternative, r, checks, "or.");
        if (alternativeFailures.isEmpty()) {
            return List.of();
        }
        return List.of(String.join("; ", failures) + "; and the `or` limits fail too: " + String.join("; ", alternativeFailures));
    }

    /** Checks each limit, records it in {@code checks} (names prefixed), and returns the failed ones, explained. */
    private static List<String> checkLimits(Map<String, Object> limits, EvaluationReport r, ArrayNode checks, String prefix) {
        List<String> failures = new ArrayList<>();
        for (Map.Entry<String, Object> limit : limits.entrySet()) {
            String name = prefix + limit.getKey();
            double bound = ((Number) limit.getValue()).doubleValue();
            Double value = switch (limit.getKey()) {
                case "min_cosine" -> r.outputs().values().stream().filter(o -> o.cosine() != null)
                        .mapToDouble(o -> o.cosine().mean()).min().stream().boxed().findFirst().orElse(null);
                case "min_cosine_worst" -> r.outputs().values().stream().filter(o -> o.cosine() != null)
                        .mapToDouble(o -> o.cosine().worst()).min().stream().boxed().findFirst().orElse(null);
                // rounded to 1e-9 points: 10 samples of 10,000 are a drop of 0.1, not 0.10000000000000009
                case "max_accuracy_drop" -> r.accuracy() == null || r.referenceAccuracy() == null ? null
                        : Math.round((r.referenceAccuracy() - r.accuracy()) * 100 * 1e9) / 1e9;
                case "min_agreement" -> r.agreement();
                case "max_latency_ratio" -> latencyRatio(r);
                case "min_compression_ratio" -> r.referenceSize() == null ? null
                        : (double) r.referenceSize().fileBytes() / r.size().fileBytes();
                default -> throw new IllegalStateException("gate key " + limit.getKey());
            };
            boolean upper = limit.getKey().startsWith("max_");
            // NaN compares false both ways: checked explicitly so that it can never pass
            boolean passed = value != null && !value.isNaN() && (upper ? value <= bound : value >= bound);
            ObjectNode check = checks.addObject();
            check.put("name", name);
            check.put("limit", bound);
            if (value == null) {
                check.putNull("value");
            } else {
                check.put("value", value);
            }
            check.put("passed", passed);
            if (!passed) {
                failures.add(value == null ? name + " could not be measured (" + unmeasurable(limit.getKey()) + ")"
                        : String.format(Locale.ROOT, "%s = %.4f, %s %.4f", name, value, upper ? "above the limit" : "below the limit", bound));
            }
        }
        return failures;
    }

    /** Why a gate limit has no value. */
    private static String unmeasurable(String key) {
        return switch (key) {
            case "min_cosine", "min_cosine_worst" -> "no floating-point output compared with the original";
            case "max_accuracy_drop" -> "no labels in the data, or no class output";
            case "min_agreement" -> "no class output compared with the original";
            case "max_latency_ratio" -> "no latency measured for both models: it needs `latency` in metrics";
            default -> "no original model to compare with";
        };
    }

    private static Double latencyRatio(EvaluationReport r) {
        if (r.timings() == null || r.referenceTimings() == null) {
            return null;
        }
        EvaluationReport.Latency own = r.timings().batchN() != null ? r.timings().batchN() : r.timings().batch1();
        EvaluationReport.Latency ref = r.referenceTimings().batchN() != null ? r.referenceTimings().batchN() : r.referenceTimings().batch1();
        return own == null || ref == null ? null : own.p50Ms() / ref.p50Ms();
    }
}
