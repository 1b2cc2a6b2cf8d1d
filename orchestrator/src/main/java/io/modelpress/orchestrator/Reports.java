package io.modelpress.orchestrator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.events.Json;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.events.RunState.StageStatus;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;

/**
 * The run report written beside the final model: report.json (input against output, each stage's report and
 * metrics, gate verdicts, timings) and report.html, the same for people. Its summary keys: {@code size},
 * {@code quality_delta} (see {@link Quality}; null where a value is NaN), {@code latency_vs_input} (the last
 * evaluation's latency verdicts, e.g. {@code batch_1.text} "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)"),
 * and {@code gates} [{stage, gate: "passed" | "failed" | "none", passed (absent for "none"), checks}].
 */
final class Reports {
    private Reports() {
    }

    static ObjectNode json(RunState run, ArtifactRef output, Instant finishedAt) {
        ObjectNode report = Json.MAPPER.createObjectNode();
        report.put("run_id", run.runId());
        report.put("name", run.name());
        report.put("source", run.source());
        report.put("state", run.state().name());
        ObjectNode recipe = report.putObject("recipe");
        recipe.put("name", run.recipeName());
        recipe.put("source", run.recipeSource());
        recipe.put("yaml", run.recipeYaml());
        report.set("input", Json.MAPPER.valueToTree(run.input()));
        report.set("output", Json.MAPPER.valueToTree(output));

        ObjectNode size = report.putObject("size");
        size.put("input_bytes", run.input().bytes());
        size.put("output_bytes", output.bytes());
        size.put("saved_bytes", run.input().bytes() - output.bytes());
        if (output.bytes() > 0) {
            size.put("compression_ratio", (double) run.input().bytes() / output.bytes());
        }

        ObjectNode quality = report.putObject("quality_delta");
        Quality.deltas(run).forEach((metric, delta) -> {
            if (Double.isFinite(delta)) {
                quality.put(metric, delta);
            } else {
                quality.putNull(metric);
            }
        });
        JsonNode latency = Quality.latency(run);
        if (latency != null) {
            report.set("latency_vs_input", latency);
        }

        ArrayNode gates = report.putArray("gates");
        ArrayNode stages = report.putArray("stages");
        long stageMillis = 0;
        for (StageStatus stage : run.stages()) {
            ObjectNode s = Json.MAPPER.valueToTree(stage);
            Long millis = millis(stage.startedAt(), stage.finishedAt());
            if (millis != null) {
                s.put("duration_ms", millis);
                stageMillis += millis;
            }
            stages.add(s);
            if ("eval".equals(stage.type())) {
                // the eval stage reports "gate": "passed"|"failed"|"none" and "gate_checks": [{name, limit, value, passed}]
                ObjectNode verdict = gates.addObject();
                verdict.put("stage", stage.index());
                String gate = gate(stage);
                verdict.put("gate", gate);
                if (!gate.equals("none")) {
                    verdict.put("passed", gate.equals("passed"));
                }
                if (stage.metrics() != null && stage.metrics().has("gate_checks")) {
                    verdict.set("checks", stage.metrics().get("gate_checks"));
                }
            }
        }

        ObjectNode timings = report.putObject("timings");
        timings.put("created_at", run.createdAt().toString());
        timings.put("finished_at", finishedAt.toString());
        timings.put("duration_ms", Duration.between(run.createdAt(), finishedAt).toMillis());
        timings.put("stages_ms", stageMillis);
        return report;
    }

    /** An eval stage's gate verdict: "failed", "passed", or "none" when the recipe set no gate (no checks were made). */
    static String gate(StageStatus stage) {
        boolean failed = (stage.error() != null && "GATE_FAILED".equals(stage.error().code()))
                || (stage.metrics() != null && "failed".equals(stage.metrics().path("gate").asText()));
        if (failed) {
            return "failed";
        }
        boolean checked = stage.metrics() != null && stage.metrics().path("gate_checks").size() > 0;
        return checked ? "passed" : "none";
    }

    private static Long millis(Instant start, Instant end) {
        return start == null || end == null ? null : Duration.between(start, end).toMillis();
    }

    static String html(ObjectNode report) {
        StringBuilder html = new StringBuilder();
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ModelPress run ")
                .append(escape(report.path("run_id").asText())).append("</title>\n<style>body{font-family:sans-serif;margin:2em}"
                        + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
                        + "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>\n");
        html.append("<h1>").append(escape(report.path("name").asText())).append(" &mdash; ")
                .append(escape(report.path("run_id").asText())).append("</h1>\n<table>\n");
        JsonNode size = report.path("size");
        row(html, "state", report.path("state").asText());
        row(html, "recipe", report.path("recipe").path("name").asText() + " (" + report.path("recipe").path("source").asText() + ")");
        row(html, "input", report.path("input").path("key").asText() + ", " + bytes(size.path("input_bytes").asLong()));
        row(html, "output", report.path("output").path("key").asText() + ", " + bytes(size.path("output_bytes").asLong()));
        if (size.has("compression_ratio")) {
            row(html, "compression", String.format(Locale.ROOT, "%.2fx", size.get("compression_ratio").asDouble()));
        }
        for (Map.Entry<String, JsonNode> delta : report.path("quality_delta").properties()) {
            row(html, "quality delta: " + delta.getKey(), delta.getValue().isNumber()
                    ? String.format(Locale.ROOT, "%+.5f", delta.getValue().asDouble()) : "NaN (the output held NaN or infinite values)");
        }
        for (String batch : new String[] {"batch_1", "batch_N"}) {
            JsonNode text = report.path("latency_vs_input").path(batch).get("text");
            if (text != null) {
                row(html, "latency", text.asText());
            }
        }
        for (JsonNode gate : report.path("gates")) {
            row(html, "gate (stage " + gate.path("stage").asInt() + ")", gate.path("gate").asText().equals("none")
                    ? "none (the recipe sets no quality gate)" : gate.path("gate").asText());
        }
        row(html, "duration", report.path("timings").path("duration_ms").asLong() + " ms");
        html.append("</table>\n<h2>Stages</h2>\n<table><tr><th>#</th><th>stage</th><th>status</th><th>attempt</th>"
                + "<th>output</th><th>duration</th></tr>\n");
        for (JsonNode stage : report.path("stages")) {
            html.append("<tr><td>").append(stage.path("index").asInt()).append("</td><td>")
                    .append(escape(stage.path("type").asText())).append("</td><td>")
                    .append(escape(stage.path("status").asText())).append("</td><td>")
                    .append(stage.path("attempt").asInt()).append("</td><td>")
                    .append(stage.has("output") ? escape(stage.path("output").path("key").asText()) + ", "
                            + bytes(stage.path("output").path("bytes").asLong()) : "")
                    .append("</td><td>").append(stage.has("duration_ms") ? stage.get("duration_ms").asLong() + " ms" : "")
                    .append("</td></tr>\n");
        }
        html.append("</table>\n<h2>report.json</h2>\n<pre>").append(escape(report.toPrettyString())).append("</pre>\n</body></html>\n");
        return html.toString();
    }

    private static void row(StringBuilder html, String name, String value) {
        html.append("<tr><th>").append(escape(name)).append("</th><td>").append(escape(value)).append("</td></tr>\n");
    }

    private static String bytes(long bytes) {
        return bytes >= 1 << 20 ? String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0)
                : bytes >= 1 << 10 ? String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0) : bytes + " B";
    }

    static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
