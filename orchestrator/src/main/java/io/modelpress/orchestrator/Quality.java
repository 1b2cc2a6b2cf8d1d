package io.modelpress.orchestrator;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How much quality a run's compressed model lost against the original, read from its last evaluation stage's report
 * (core's EvaluationReport JSON: accuracy, reference_accuracy, agreement, outputs.*.cosine.mean). Each delta is
 * "compressed minus original", so 0 is no loss and negative is worse: accuracy and reference_accuracy give
 * {@code accuracy}; agreement with the original's answers gives {@code agreement} (agreement - 1); the lowest mean
 * output cosine gives {@code cosine} (cosine - 1), NaN when an output's cosine is NaN (written as null: the model
 * returned NaN or infinite values) - a NaN must not read as no loss, nor disappear.
 */
final class Quality {
    private static final int SEARCH_DEPTH = 3;

    private Quality() {
    }

    static Map<String, Double> deltas(RunState run) {
        Map<String, Double> deltas = new LinkedHashMap<>();
        Optional<JsonNode> report = lastEvaluation(run);
        if (report.isEmpty()) {
            return deltas;
        }
        JsonNode r = report.get();
        if (r.path("accuracy").isNumber() && r.path("reference_accuracy").isNumber()) {
            deltas.put("accuracy", r.get("accuracy").asDouble() - r.get("reference_accuracy").asDouble());
        }
        if (r.path("agreement").isNumber()) {
            deltas.put("agreement", r.get("agreement").asDouble() - 1);
        }
        Double lowestCosine = null;
        for (Iterator<JsonNode> outputs = r.path("outputs").elements(); outputs.hasNext(); ) {
            JsonNode mean = outputs.next().path("cosine").path("mean");
            if (mean.isNull()) {
                lowestCosine = Double.NaN;
            } else if (mean.isNumber() && (lowestCosine == null || mean.asDouble() < lowestCosine)) {
                lowestCosine = mean.asDouble();
            }
        }
        if (lowestCosine != null) {
            deltas.put("cosine", lowestCosine - 1);
        }
        return deltas;
    }

    /**
     * The last evaluation's latency verdicts against the original ({@code latency_vs_reference}: per batch size a
     * ratio, its spread over session pairs, "faster" / "slower" / "no measurable difference" and a sentence), or null.
     */
    static JsonNode latency(RunState run) {
        return lastEvaluation(run).map(r -> r.get("latency_vs_reference")).orElse(null);
    }

    /** The report of the last eval stage that reported metrics, wherever in its metrics the evaluation sits. */
    static Optional<JsonNode> lastEvaluation(RunState run) {
        JsonNode found = null;
        for (StageStatus stage : run.stages()) {
            if ("eval".equals(stage.type()) && stage.metrics() != null) {
                JsonNode report = find(stage.metrics(), SEARCH_DEPTH);
                if (report != null) {
                    found = report;
                }
            }
        }
        return Optional.ofNullable(found);
    }

    private static JsonNode find(JsonNode node, int depth) {
        if (!node.isObject()) {
            return null;
        }
        if (node.has("outputs") || node.has("agreement") || node.has("accuracy")) {
            return node;
        }
        if (depth == 0) {
            return null;
        }
        for (Iterator<JsonNode> children = node.elements(); children.hasNext(); ) {
            JsonNode found = find(children.next(), depth - 1);
            if (found != null) {
                return found;
            }
        }
        return null;
    }
}
