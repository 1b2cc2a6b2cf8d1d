package io.modelpress.core.report;

import io.modelpress.core.report.RunReport.Cosine;
import io.modelpress.core.report.RunReport.Evaluation;
import io.modelpress.core.report.RunReport.GateCheck;
import io.modelpress.core.report.RunReport.Latency;
import io.modelpress.core.report.RunReport.ModelRef;
import io.modelpress.core.report.RunReport.Stage;
import io.modelpress.core.report.RunReport.Verdict;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * report.html: the run report as a page of tables for people (summary, evaluation, gate checks, notes, stages, the
 * recipe), self-contained (no scripts, no external resources). Every string from the report is escaped. The stages'
 * own reports are in report.json, not here.
 */
public final class ReportHtml {
    private ReportHtml() {
    }

    public static String render(RunReport report) {
        StringBuilder html = new StringBuilder();
        String title = "ModelPress run " + report.run().id() + " (" + report.run().name() + ")";
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(escape(title))
                .append("</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
                        + "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;"
                        + "text-align:left;vertical-align:top}th{background:#f3f3f3}.failed{color:#b00020;font-weight:bold}"
                        + "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>\n");
        html.append("<h1>").append(escape(title)).append("</h1>\n");
        summary(html, report);
        if (report.evaluation() != null) {
            evaluation(html, report.evaluation());
        }
        gateChecks(html, report.stages());
        List<String> notes = new ArrayList<>(report.notes());
        if (report.evaluation() != null) {
            notes.addAll(report.evaluation().notes());
        }
        if (!notes.isEmpty()) {
            html.append("<h2>Notes</h2>\n<ul>\n");
            notes.forEach(note -> html.append("<li>").append(escape(note)).append("</li>\n"));
            html.append("</ul>\n");
        }
        stages(html, report.stages());
        if (report.recipe().yaml() != null) {
            html.append("<h2>Recipe</h2>\n<pre>").append(escape(report.recipe().yaml())).append("</pre>\n");
        }
        html.append("</body></html>\n");
        return html.toString();
    }

    private static void summary(StringBuilder html, RunReport report) {
        html.append("<table>\n");
        row(html, "run", report.run().id() + ", " + report.run().state() + " (source: " + report.run().source() + ")");
        if (report.run().error() != null) {
            row(html, "error", report.run().error());
        }
        row(html, "recipe", report.recipe().name() + " (" + report.recipe().source() + ")");
        row(html, "input", model(report.input()));
        row(html, "output", model(report.output()));
        RunReport.Size size = report.size();
        row(html, "size", bytes(size.inputBytes()) + " -> " + bytes(size.outputBytes())
                + (size.compressionRatio() == null ? "" : String.format(Locale.ROOT, " (%.2fx smaller)", size.compressionRatio())));
        String gate = switch (report.gate()) {
            case RunReport.NONE -> "none (the recipe sets no quality gate)";
            case RunReport.FAILED -> "FAILED: " + report.gateFailure();
            default -> report.gate();
        };
        html.append("<tr><th>gate</th><td").append(report.gate().equals(RunReport.FAILED) ? " class=\"failed\"" : "").append('>')
                .append(escape(gate)).append("</td></tr>\n");
        if (report.timings().durationMs() != null) {
            row(html, "time", seconds(report.timings().durationMs()) + " in all, " + seconds(report.timings().stagesMs())
                    + " in stages (started " + report.timings().startedAt() + ")");
        }
        html.append("</table>\n");
    }

    private static void evaluation(StringBuilder html, Evaluation e) {
        html.append("<h2>Output against input</h2>\n<table>\n");
        if (e.samples() != null) {
            row(html, "samples", Long.toString(e.samples()));
        }
        for (Map.Entry<String, Cosine> cosine : e.cosine().entrySet()) {
            row(html, "cosine, output " + cosine.getKey(), "mean " + decimal(cosine.getValue().mean(), 5) + ", worst "
                    + decimal(cosine.getValue().min(), 5));
        }
        if (e.accuracy() != null) {
            row(html, "accuracy", percent(e.accuracy()) + (e.inputAccuracy() == null ? "" : " (input " + percent(e.inputAccuracy()) + ")"));
        }
        if (e.agreement() != null) {
            row(html, "agreement", percent(e.agreement()) + " of samples get the input model's top-1 answer");
        }
        e.qualityDelta().forEach((metric, delta) -> row(html, "quality delta: " + metric,
                delta == null ? "NaN (the output held NaN or infinite values)" : String.format(Locale.ROOT, "%+.5f", delta)));
        for (int i = 0; i < 2; i++) {
            Latency own = e.latencyMs() == null ? null : i == 0 ? e.latencyMs().batch1() : e.latencyMs().batchN();
            Latency input = e.inputLatencyMs() == null ? null : i == 0 ? e.inputLatencyMs().batch1() : e.inputLatencyMs().batchN();
            if (own != null) {
                row(html, "latency, batch " + own.batch(), (input == null ? "" : "input " + millis(input.p50()) + ", output ")
                        + millis(own.p50()) + " p50");
            }
        }
        if (e.latencyVsInput() != null) {
            for (Verdict verdict : new Verdict[] {e.latencyVsInput().batch1(), e.latencyVsInput().batchN()}) {
                if (verdict != null) {
                    row(html, "speed, batch " + verdict.batch(), verdict.text());
                }
            }
        }
        e.nonFiniteValues().forEach((output, count) -> html.append("<tr><th>NaN or infinite values</th><td class=\"failed\">output ")
                .append(escape(output)).append(": ").append(count).append("</td></tr>\n"));
        html.append("</table>\n");
    }

    private static void gateChecks(StringBuilder html, List<Stage> stages) {
        if (stages.stream().allMatch(s -> s.gateChecks().isEmpty())) {
            return;
        }
        html.append("<h2>Quality gate</h2>\n<table><tr><th>stage</th><th>limit</th><th>bound</th><th>measured</th><th>result</th></tr>\n");
        for (Stage stage : stages) {
            for (GateCheck check : stage.gateChecks()) {
                html.append("<tr><td>").append(escape(stage.label())).append("</td><td>").append(escape(check.name()))
                        .append("</td><td>").append(decimal(check.limit(), 4)).append("</td><td>")
                        .append(check.value() == null ? "not measured or NaN" : decimal(check.value(), 4)).append("</td><td")
                        .append(check.passed() ? ">met" : " class=\"failed\">not met").append("</td></tr>\n");
            }
        }
        html.append("</table>\n");
    }

    private static void stages(StringBuilder html, List<Stage> stages) {
        html.append("<h2>Stages</h2>\n<table><tr><th>stage</th><th>status</th><th>attempt</th><th>duration</th>"
                + "<th>gate</th><th>output</th><th>error</th></tr>\n");
        for (Stage stage : stages) {
            html.append("<tr><td>").append(escape(stage.label())).append(stage.appended() ? " (appended)" : "")
                    .append("</td><td>").append(escape(stage.status())).append("</td><td>").append(stage.attempt())
                    .append("</td><td>").append(stage.durationMs() == null ? "" : seconds(stage.durationMs()))
                    .append("</td><td>").append(escape(stage.gate()))
                    .append("</td><td>").append(stage.output() == null ? "" : escape(model(stage.output())))
                    .append("</td><td>").append(stage.error() == null ? "" : escape(stage.error().code() + ": " + stage.error().message()))
                    .append("</td></tr>\n");
        }
        html.append("</table>\n");
    }

    private static void row(StringBuilder html, String name, String value) {
        html.append("<tr><th>").append(escape(name)).append("</th><td>").append(escape(value)).append("</td></tr>\n");
    }

    private static String model(ModelRef ref) {
        return ref.location() + ", " + bytes(ref.bytes()) + (ref.sha256() == null ? "" : ", SHA-256 " + ref.sha256());
    }

    private static String decimal(Double value, int decimals) {
        return value == null ? "NaN" : String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * fraction);
    }

    private static String millis(Double value) {
        return value == null ? "?" : String.format(Locale.ROOT, "%.2f ms", value);
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    /** Decimal units, as the CLI prints sizes. */
    /** A byte count for people: "812 B", "1.7 MB" (powers of 1000, one decimal). */
    public static String bytes(long bytes) {
        if (bytes < 1000) {
            return bytes + " B";
        }
        String[] units = {"KB", "MB", "GB", "TB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    static String escape(String text) {
        if (text == null) {
            return "";
        }
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;").replace("'", "&#39;");
    }
}
