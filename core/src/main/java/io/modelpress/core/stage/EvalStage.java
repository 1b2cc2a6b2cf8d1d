package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.eval.EvaluationReport;
import io.modelpress.core.eval.EvaluationRequest;
import io.modelpress.core.eval.Evaluator;
import io.modelpress.core.eval.SessionSettings;
import io.modelpress.core.recipe.StageSpec;

import java.time.Duration;
import java.util.ArrayList;
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
                .withDataOptions(DataOptions.DEFAULT.withTokenizer(context.tokenizer()).withLimit(spec.integer("samples")))
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

    /** Each configured gate limit, checked; a limit that cannot be measured fails (a gate must never pass by default). */
    static List<String> checkGate(Map<String, Object> gate, EvaluationReport r, ArrayNode checks) {
        List<String> failures = new ArrayList<>();
        for (Map.Entry<String, Object> limit : gate.entrySet()) {
            double bound = ((Number) limit.getValue()).doubleValue();
            Double value = switch (limit.getKey()) {
                case "min_cosine" -> r.outputs().values().stream().filter(o -> o.cosine() != null)
                        .mapToDouble(o -> o.cosine().mean()).min().stream().boxed().findFirst().orElse(null);
                case "min_cosine_worst" -> r.outputs().values().stream().filter(o -> o.cosine() != null)
                        .mapToDouble(o -> o.cosine().worst()).min().stream().boxed().findFirst().orElse(null);
                case "max_accuracy_drop" -> r.accuracy() == null || r.referenceAccuracy() == null ? null
                        : (r.referenceAccuracy() - r.accuracy()) * 100;
                case "min_agreement" -> r.agreement();
                case "max_latency_ratio" -> latencyRatio(r);
                case "min_compression_ratio" -> r.referenceSize() == null ? null
                        : (double) r.referenceSize().fileBytes() / r.size().fileBytes();
                default -> throw new IllegalStateException("gate key " + limit.getKey());
            };
            boolean upper = limit.getKey().startsWith("max_");
            boolean passed = value != null && !value.isNaN() && (upper ? value <= bound : value >= bound);
            ObjectNode check = checks.addObject();
            check.put("name", limit.getKey());
            check.put("limit", bound);
            if (value == null) {
                check.putNull("value");
            } else {
                check.put("value", value);
            }
            check.put("passed", passed);
            if (!passed) {
                failures.add(value == null ? limit.getKey() + " could not be measured (no labels, reference or timing)"
                        : String.format(Locale.ROOT, "%s = %.4f, %s %.4f", limit.getKey(), value, upper ? "above the limit" : "below the limit", bound));
            }
        }
        return failures;
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
