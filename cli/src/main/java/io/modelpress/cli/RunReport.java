package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.pipeline.events.RunState;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/** Prints a run's outcome and the highlights of its report.json: size, latency and fidelity before and after. */
final class RunReport {
    /** Exit codes of watch and demo: 0 succeeded, 3 the quality gate failed, 1 failed or cancelled otherwise. */
    static final int GATE_FAILED = CompressCommand.GATE_FAILED;

    private RunReport() {
    }

    static int exitCode(RunState run) {
        if (run.state() == RunState.State.SUCCEEDED) {
            return 0;
        }
        boolean gate = run.stages().stream().anyMatch(s -> s.error() != null && "GATE_FAILED".equals(s.error().code()));
        return gate ? GATE_FAILED : Main.FAILURE;
    }

    static void printOutcome(RunState run, String bucket, PrintWriter out) {
        switch (run.state()) {
            case SUCCEEDED -> out.println("run " + run.runId() + " SUCCEEDED: outputs under s3://" + (bucket == null ? "<bucket>" : bucket)
                    + "/" + run.outgoing());
            case FAILED -> out.println("run " + run.runId() + " FAILED" + (exitCode(run) == GATE_FAILED ? " (quality gate)" : "") + ": "
                    + run.error());
            default -> out.println("run " + run.runId() + " " + run.state() + (run.error() == null ? "" : ": " + run.error()));
        }
        out.flush();
    }

    /** The report's highlights (orchestrator report.json: size, quality_delta, stages[].metrics of the eval stage). */
    static void printSummary(JsonNode report, PrintWriter out) {
        JsonNode size = report.path("size");
        if (size.has("input_bytes")) {
            out.printf(Locale.ROOT, "size      %s -> %s (%.2fx smaller)%n", Format.bytes(size.path("input_bytes").asLong()),
                    Format.bytes(size.path("output_bytes").asLong()), size.path("compression_ratio").asDouble(Double.NaN));
        }
        JsonNode eval = lastEvaluation(report);
        if (eval != null) {
            latency(out, eval, "batch_1");
            latency(out, eval, "batch_N");
            for (String verdict : Format.speed(eval.get("latency_vs_reference"))) {
                out.println("speed     " + verdict);
            }
            for (Map.Entry<String, JsonNode> output : eval.path("outputs").properties()) {
                JsonNode cosine = output.getValue().path("cosine");
                if (cosine.has("mean")) {
                    out.printf(Locale.ROOT, "fidelity  output %s: cosine to the original mean %s, worst %s (original: 1.0 by "
                            + "definition) over %d samples%n", output.getKey(), Format.decimal(cosine.get("mean"), 5),
                            Format.decimal(cosine.get("min"), 5), eval.path("samples").asLong());
                }
            }
            if (eval.has("accuracy") && eval.has("reference_accuracy")) {
                out.printf(Locale.ROOT, "accuracy  %.2f%% (original %.2f%%)%n", 100 * eval.path("accuracy").asDouble(),
                        100 * eval.path("reference_accuracy").asDouble());
            }
            for (JsonNode note : eval.path("notes")) {
                if (note.asText().startsWith("warning:")) {
                    out.println(note.asText());
                }
            }
            if (eval.has("gate")) {
                StringBuilder checks = new StringBuilder();
                for (JsonNode check : eval.path("gate_checks")) {
                    checks.append(String.format(Locale.ROOT, "%s%s %s %.4f: %s", checks.length() > 0 ? "; " : "",
                            check.path("name").asText(), check.path("name").asText().startsWith("max_") ? "<=" : ">=",
                            check.path("limit").asDouble(), check.path("value").isNumber() && Double.isFinite(check.path("value").asDouble())
                                    ? String.format(Locale.ROOT, "%.4f", check.path("value").asDouble())
                                    : check.path("value").isNumber() || check.path("value").isTextual() ? "NaN" : "not measured"));
                }
                String verdict = eval.path("gate").asText();
                if (checks.length() == 0 && "passed".equals(verdict)) {
                    verdict = "none"; // reports from before "none" existed said "passed" for a stage without a gate
                }
                out.println("gate      " + Format.gate(verdict) + (checks.length() > 0 ? " (" + checks + ")" : ""));
            }
        }
        StringBuilder stages = new StringBuilder();
        for (JsonNode stage : report.path("stages")) {
            if (stage.has("duration_ms")) {
                stages.append(String.format(Locale.ROOT, "%s%s %.1f s", stages.length() > 0 ? ", " : "", stage.path("type").asText(),
                        stage.path("duration_ms").asLong() / 1000.0));
            }
        }
        if (report.path("timings").has("duration_ms")) {
            out.printf(Locale.ROOT, "time      %.1f s in all (%s)%n", report.path("timings").path("duration_ms").asLong() / 1000.0, stages);
        }
        out.flush();
    }

    private static JsonNode lastEvaluation(JsonNode report) {
        JsonNode found = null;
        for (JsonNode stage : report.path("stages")) {
            if ("eval".equals(stage.path("type").asText()) && stage.path("metrics").isObject()) {
                found = stage.path("metrics");
            }
        }
        return found;
    }

    /** Milliseconds before and after; whether that is faster or slower is said by the verdict lines, not guessed from two p50s. */
    private static void latency(PrintWriter out, JsonNode eval, String key) {
        JsonNode own = eval.path("latency_ms").path(key);
        JsonNode ref = eval.path("reference_latency_ms").path(key);
        if (!own.has("p50")) {
            return;
        }
        String batch = key.equals("batch_1") ? "1" : own.path("batch").asText();
        if (ref.has("p50")) {
            out.printf(Locale.ROOT, "latency   batch %s: %.2f ms -> %.2f ms p50%n", batch, ref.path("p50").asDouble(), own.path("p50").asDouble());
        } else {
            out.printf(Locale.ROOT, "latency   batch %s: %.2f ms p50%n", batch, own.path("p50").asDouble());
        }
    }
}
