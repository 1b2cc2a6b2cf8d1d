package io.modelpress.core.report;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.report.RunReport.Candidate;
import io.modelpress.core.report.RunReport.Cosine;
import io.modelpress.core.report.RunReport.Evaluation;
import io.modelpress.core.report.RunReport.GateCheck;
import io.modelpress.core.report.RunReport.Latency;
import io.modelpress.core.report.RunReport.ModelRef;
import io.modelpress.core.report.RunReport.Stage;
import io.modelpress.core.report.RunReport.Tuning;
import io.modelpress.core.report.RunReport.Verdict;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.DoubleFunction;

/**
 * report.html: the run report as one page for people. At the top the outcome (run state, quality gate, tuning), then the
 * model before and after (size, latency, quality), a chart of size against quality (every tuning candidate, the Pareto
 * front, the gate), where the time went, what the stages did per layer or node, the candidates, the notes, and at the
 * end the recipe and report.json itself, collapsed. Self-contained: inline CSS and SVG, no scripts, nothing fetched.
 * Every string from the report is escaped.
 */
public final class ReportHtml {
    private static final String CSS = """
            body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2330;\
            background:#f4f6f9;margin:0}
            main{max-width:1060px;margin:0 auto;padding:24px 28px 48px}
            h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 10px;border-bottom:1px solid #d7dce4;padding-bottom:4px}
            h3{font-size:15px;margin:18px 0 6px}
            .sub{color:#5b6475;margin:0 0 14px}
            .head{background:#fff;border:1px solid #d7dce4;border-radius:10px;padding:20px 24px}
            .badge{display:inline-block;border-radius:999px;padding:3px 12px;margin:0 6px 6px 0;font-weight:600;font-size:14px}
            .ok{background:#dff3e4;color:#14532d}.bad{background:#fde2e1;color:#8a1c12}.neutral{background:#e8ebf0;color:#394151}
            .why{margin:6px 0 0;color:#8a1c12}
            .tiles{display:flex;gap:14px;flex-wrap:wrap;margin-top:16px}
            .tile{flex:1 1 200px;background:#f7f9fc;border:1px solid #e1e5ec;border-radius:8px;padding:10px 14px}
            .tile b{display:block;font-size:22px}.tile span{color:#5b6475;font-size:13px}
            table{border-collapse:collapse;margin:6px 0 14px;background:#fff;font-size:14px}
            td,th{border:1px solid #d7dce4;padding:5px 9px;text-align:left;vertical-align:top}
            th{background:#eef1f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
            .failed{color:#b00020;font-weight:600}.passed{color:#15803d}
            tr.chosen td{background:#fff7d6}
            svg{background:#fff;border:1px solid #d7dce4;border-radius:8px;max-width:100%;height:auto;display:block;margin:6px 0}
            svg text{font:12px system-ui,sans-serif;fill:#39414f}
            svg .axis{stroke:#8a93a3}svg .grid{stroke:#edf0f4}
            svg .pareto{fill:none;stroke:#2563eb;stroke-width:2;stroke-dasharray:6 4}
            svg .gate{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:3 3}svg text.gate-label{fill:#b91c1c}
            svg circle{stroke:#1d2330;stroke-width:1}svg circle.passed{fill:#22c55e}svg circle.failed{fill:#ef4444}
            svg circle.none{fill:#94a3b8}svg circle.unmeasured{fill:#fff;stroke-dasharray:2 2}
            svg circle.chosen{stroke:#1d2330;stroke-width:3.5}svg text.chosen-label{font-weight:700}
            svg rect.bar{fill:#60a5fa}svg rect.bar-chosen{fill:#f59e0b}svg rect.sparsity{fill:#8b5cf6}
            .note{color:#5b6475;font-size:13px}.warn{color:#8a1c12}
            details{background:#fff;border:1px solid #d7dce4;border-radius:8px;padding:8px 12px;margin:10px 0}
            summary{cursor:pointer;font-weight:600}
            pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px;max-height:600px}
            """;
    /** Rows of a per-layer or per-node table or chart before the rest is only counted. */
    private static final int MAX_ROWS = 40;

    private ReportHtml() {
    }

    public static String render(RunReport report) {
        StringBuilder html = new StringBuilder();
        String title = "ModelPress run " + report.run().id() + " (" + report.run().name() + ")";
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>").append(escape(title))
                .append("</title>\n<style>\n").append(CSS).append("</style></head><body><main>\n");
        headline(html, report);
        beforeAfter(html, report);
        gateChecks(html, report.stages());
        qualityChart(html, report);
        durations(html, report);
        perLayer(html, report.stages());
        if (report.tuning() != null) {
            candidatesTable(html, report.tuning());
        }
        notes(html, report);
        stagesTable(html, report.stages());
        html.append("<h2>Recipe and report.json</h2>\n");
        if (report.recipe().yaml() != null) {
            html.append("<details><summary>recipe ").append(escape(report.recipe().name())).append(" (")
                    .append(escape(report.recipe().source())).append(")</summary>\n<pre>").append(escape(report.recipe().yaml()))
                    .append("</pre></details>\n");
        }
        html.append("<details><summary>report.json (the whole report, every stage's own report included)</summary>\n<pre>")
                .append(escape(RunReports.toJson(report))).append("</pre></details>\n");
        html.append("</main></body></html>\n");
        return html.toString();
    }

    // ---- the top of the page

    private static void headline(StringBuilder html, RunReport report) {
        html.append("<header class=\"head\">\n<h1>").append(escape(report.run().name())).append("</h1>\n<p class=\"sub\">run ")
                .append(escape(report.run().id())).append(" \u00b7 recipe ").append(escape(report.recipe().name())).append(" (")
                .append(escape(report.recipe().source())).append(") \u00b7 source ").append(escape(report.run().source()));
        if (report.timings().durationMs() != null) {
            html.append(" \u00b7 ").append(seconds(report.timings().durationMs())).append(" in all, ")
                    .append(seconds(report.timings().stagesMs())).append(" in stages");
        }
        if (report.timings().startedAt() != null) {
            html.append(" \u00b7 started ").append(escape(report.timings().startedAt()));
        }
        html.append("</p>\n<div>");
        boolean succeeded = RunReport.SUCCEEDED_STATE.equals(report.run().state());
        badge(html, succeeded ? "ok" : "bad", "run " + report.run().state());
        switch (report.gate()) {
            case RunReport.PASSED -> badge(html, "ok", "gate passed");
            case RunReport.FAILED -> badge(html, "bad", "gate failed");
            default -> badge(html, "neutral", "no quality gate");
        }
        Tuning tuning = report.tuning();
        if (tuning != null) {
            badge(html, Tuning.GOAL_MET.equals(tuning.outcome()) ? "ok" : "bad", "tuning: " + tuning.outcome());
        }
        html.append("</div>\n");
        if (RunReport.NONE.equals(report.gate())) {
            html.append("<p class=\"sub\">Gate: none (the recipe sets no quality gate).</p>\n");
        }
        if (RunReport.FAILED.equals(report.gate())) {
            html.append("<p class=\"why\">").append(escape("Gate: " + report.gateFailure())).append("</p>\n");
        }
        if (report.run().error() != null) {
            html.append("<p class=\"why\">").append(escape("Error: " + report.run().error())).append("</p>\n");
        }
        if (tuning != null) {
            Candidate chosen = tuning.chosenCandidate();
            html.append("<p>").append(escape(String.format(Locale.ROOT, "Tuning (%s) tried %d candidate%s and stopped: %s. "
                            + "The output is candidate %d, %s.", tuning.strategy(), tuning.candidates().size(),
                    tuning.candidates().size() == 1 ? "" : "s", tuning.stoppedBy(), chosen.number(), changes(chosen))))
                    .append("</p>\n");
        }
        tiles(html, report);
        html.append("</header>\n");
    }

    private static void badge(StringBuilder html, String kind, String text) {
        html.append("<span class=\"badge ").append(kind).append("\">").append(escape(text)).append("</span>");
    }

    /** The three numbers to read first: size, speed and quality. */
    private static void tiles(StringBuilder html, RunReport report) {
        html.append("<div class=\"tiles\">\n");
        RunReport.Size size = report.size();
        tile(html, size.compressionRatio() == null ? "empty output" : String.format(Locale.ROOT, "%.2fx smaller", size.compressionRatio()),
                "size " + bytes(size.inputBytes()) + " \u2192 " + bytes(size.outputBytes()));
        Evaluation e = report.evaluation();
        Verdict verdict = e == null || e.latencyVsInput() == null ? null
                : e.latencyVsInput().batchN() != null ? e.latencyVsInput().batchN() : e.latencyVsInput().batch1();
        if (verdict != null && verdict.text() != null) {
            int at = verdict.text().indexOf(" at batch");
            tile(html, at > 0 ? verdict.text().substring(0, at) : verdict.text(), verdict.text());
        } else {
            tile(html, "latency", "not timed");
        }
        String metric = e == null ? null : qualityMetric(e);
        if (metric != null) {
            tile(html, signed(e.qualityDelta().get(metric)), "quality delta, " + metric + " (0 = no loss)");
        } else {
            tile(html, "quality", "not measured");
        }
        html.append("</div>\n");
    }

    private static void tile(StringBuilder html, String big, String small) {
        html.append("<div class=\"tile\"><b>").append(escape(big)).append("</b><span>").append(escape(small)).append("</span></div>\n");
    }

    // ---- before and after

    private static void beforeAfter(StringBuilder html, RunReport report) {
        html.append("<h2>Before and after</h2>\n<table>\n<tr><th></th><th>input</th><th>output</th><th>change</th></tr>\n");
        RunReport.Size size = report.size();
        row(html, "size", bytesExact(size.inputBytes()), bytesExact(size.outputBytes()), size.compressionRatio() == null ? ""
                : String.format(Locale.ROOT, "%.2fx smaller (%s saved)", size.compressionRatio(), bytes(size.savedBytes())));
        Evaluation e = report.evaluation();
        if (e == null) {
            html.append("</table>\n<p class=\"note\">No stage evaluated the output against the input.</p>\n");
            models(html, report);
            return;
        }
        for (int i = 0; i < 2; i++) {
            Latency own = e.latencyMs() == null ? null : i == 0 ? e.latencyMs().batch1() : e.latencyMs().batchN();
            Latency input = e.inputLatencyMs() == null ? null : i == 0 ? e.inputLatencyMs().batch1() : e.inputLatencyMs().batchN();
            Verdict verdict = e.latencyVsInput() == null ? null : i == 0 ? e.latencyVsInput().batch1() : e.latencyVsInput().batchN();
            if (own != null || input != null) {
                int batch = own != null ? own.batch() : input.batch();
                row(html, "latency p50, batch " + batch, input == null ? "not timed" : millis(input.p50()),
                        own == null ? "not timed" : millis(own.p50()), verdict == null || verdict.text() == null ? "" : verdict.text());
            }
        }
        if (e.accuracy() != null || e.inputAccuracy() != null) {
            row(html, "accuracy", e.inputAccuracy() == null ? "" : percent(e.inputAccuracy()), e.accuracy() == null ? "NaN" : percent(e.accuracy()),
                    delta(e, "accuracy"));
        }
        if (e.agreement() != null || e.qualityDelta().containsKey("agreement")) {
            row(html, "agreement with the input's top-1", "100% (by definition)", e.agreement() == null ? "NaN" : percent(e.agreement()),
                    delta(e, "agreement"));
        }
        for (Map.Entry<String, Cosine> cosine : e.cosine().entrySet()) {
            Cosine c = cosine.getValue();
            row(html, "cosine to the input, output " + cosine.getKey(), "1 (by definition)",
                    "mean " + decimal(c.mean(), 5) + ", worst " + decimal(c.min(), 5),
                    c.mean() == null ? "NaN (the output held NaN or infinite values)" : "mean " + signed(c.mean() - 1));
        }
        e.nonFiniteValues().forEach((output, count) -> html.append("<tr><th>NaN or infinite values</th><td></td><td class=\"failed\">output ")
                .append(escape(output)).append(": ").append(count).append("</td><td></td></tr>\n"));
        html.append("</table>\n");
        if (e.samples() != null) {
            html.append("<p class=\"note\">Measured on ").append(e.samples()).append(" samples by stage ")
                    .append(escape(label(report.stages(), e.stage()))).append("; quality delta = output minus input, 0 = no loss, "
                            + "negative = worse.</p>\n");
        }
        models(html, report);
    }

    private static String delta(Evaluation e, String metric) {
        if (!e.qualityDelta().containsKey(metric)) {
            return "";
        }
        Double delta = e.qualityDelta().get(metric);
        return delta == null ? "NaN (the output held NaN or infinite values)" : "quality delta " + signed(delta);
    }

    private static void models(StringBuilder html, RunReport report) {
        html.append("<table>\n");
        row(html, "input model", model(report.input()));
        row(html, "output model", model(report.output()));
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
                        .append(check.passed() ? " class=\"passed\">met" : " class=\"failed\">not met").append("</td></tr>\n");
            }
        }
        html.append("</table>\n");
    }

    // ---- size against quality

    /** A point of the quality chart: x and y null when not measured. */
    private record Point(String label, Double x, Double y, String kind, boolean chosen, boolean pareto, String title) {
    }

    private static void qualityChart(StringBuilder html, RunReport report) {
        Tuning tuning = report.tuning();
        Evaluation e = report.evaluation();
        String metric = tuning != null ? tuning.chosenCandidate().qualityMetric() : e == null ? null : qualityMetric(e);
        html.append("<h2>Size against quality</h2>\n");
        if (metric == null) {
            html.append("<p class=\"note\">No chart: no quality (accuracy, agreement or cosine) was measured.</p>\n");
            return;
        }
        List<Point> points = new ArrayList<>();
        boolean bySize = true;
        String xName = "output size";
        if (tuning != null) {
            List<Candidate> candidates = tuning.candidates();
            bySize = candidates.stream().map(c -> c.output() == null ? null : c.output().bytes()).distinct().count() > 1;
            boolean byLatency = !bySize && candidates.stream().anyMatch(c -> c.latencyRatio() != null);
            xName = bySize ? "output size" : byLatency ? "latency ratio to the input (sizes are all equal)"
                    : "candidate (sizes are all equal, latency not timed)";
            for (Candidate c : candidates) {
                Double x = bySize ? (c.output() == null ? null : (Double) (double) c.output().bytes())
                        : byLatency ? c.latencyRatio() : (Double) (double) c.number();
                points.add(new Point(Integer.toString(c.number()), x, c.quality(), c.gate(), c.chosen(), c.pareto(),
                        "candidate " + c.number() + ": " + changes(c) + "; gate " + c.gate()));
            }
        } else {
            points.add(new Point("input", (double) report.input().bytes(), 0.0, RunReport.NONE, false, false, "the input model"));
            points.add(new Point("output", (double) report.output().bytes(), e.qualityDelta().get(metric), report.gate(), true, false,
                    "the output model; gate " + report.gate()));
        }
        Double gate = gateLine(report.stages(), metric);
        Axes axes = Axes.of(points.stream().map(Point::x).toList(),
                concat(points.stream().map(Point::y).toList(), 0.0, gate), 640, 380, 80, 130);
        DoubleFunction<String> xFormat = bySize ? byteScale(axes.x0, axes.x1) : ReportHtml::trim;
        html.append(axes.open("quality-chart", "Quality delta against " + xName));
        axes.frame(html, xName, "quality delta, " + metric, xFormat, ReportHtml::trim);
        html.append("<line class=\"axis\" x1=\"").append(f(axes.left)).append("\" x2=\"").append(f(axes.right))
                .append("\" y1=\"").append(f(axes.py(0))).append("\" y2=\"").append(f(axes.py(0))).append("\" opacity=\"0.5\"/>\n");
        if (gate != null) {
            double y = axes.py(gate);
            html.append("<line class=\"gate\" x1=\"").append(f(axes.left)).append("\" x2=\"").append(f(axes.right)).append("\" y1=\"")
                    .append(f(y)).append("\" y2=\"").append(f(y)).append("\"/>\n<text class=\"gate-label\" x=\"").append(f(axes.right - 4))
                    .append("\" y=\"").append(f(y - 5)).append("\" text-anchor=\"end\">gate ").append(escape(trim(gate))).append("</text>\n");
        }
        List<Point> front = points.stream().filter(p -> p.pareto() && p.x() != null && p.y() != null)
                .sorted(Comparator.comparingDouble(Point::x)).toList();
        if (!front.isEmpty()) {
            html.append("<polyline class=\"pareto\" points=\"");
            for (Point p : front) {
                html.append(f(axes.px(p.x()))).append(',').append(f(axes.py(p.y()))).append(' ');
            }
            if (front.size() == 1) { // one point: a short tick, so that the front is still seen
                html.append(f(axes.px(front.get(0).x()) + 12)).append(',').append(f(axes.py(front.get(0).y())));
            }
            html.append("\"/>\n");
        }
        List<double[]> placed = new ArrayList<>();
        for (Point p : points) {
            boolean measured = p.x() != null && p.y() != null;
            double cx = p.x() == null ? axes.left : axes.px(p.x());
            double cy = p.y() == null ? axes.bottom : axes.py(p.y());
            double ly = labelY(placed, cx + 10, cy - 8);
            html.append("<circle class=\"").append(measured ? p.kind() : "unmeasured").append(p.chosen() ? " chosen" : "")
                    .append("\" cx=\"").append(f(cx)).append("\" cy=\"").append(f(cy)).append("\" r=\"").append(p.chosen() ? 8 : 6)
                    .append("\"><title>").append(escape(p.title() + (measured ? "" : " (quality NaN or not measured)")))
                    .append("</title></circle>\n<text").append(p.chosen() ? " class=\"chosen-label\"" : "").append(" x=\"")
                    .append(f(cx + 10)).append("\" y=\"").append(f(ly)).append("\">").append(escape(p.label()))
                    .append(p.chosen() && tuning != null ? " (chosen)" : "").append("</text>\n");
        }
        legend(html, axes, gate != null, tuning != null);
        String note = tuning != null
                ? "Each circle is a candidate, numbered as in the table below; up is better (0 = no loss). Green passed its gate, "
                + "red failed it, grey had none; the chosen one is ringed. The dashed blue line joins the Pareto front (no other "
                + "candidate is smaller and at least as good)."
                : "The input (no loss by definition) and the output; up is better. The run did not tune, so there are no other "
                + "candidates.";
        note += gate != null ? " The dashed red line is the gate's limit."
                : " The gate's limit is not on this axis (or there is no gate), so no gate line is drawn.";
        html.append("</svg>\n<p class=\"note\">").append(escape(note)).append("</p>\n");
    }

    /** A label's y near {@code y}, moved down until it overlaps no label placed before; records it. */
    private static double labelY(List<double[]> placed, double x, double y) {
        double at = y;
        boolean moved = true;
        while (moved) {
            moved = false;
            for (double[] other : placed) {
                if (Math.abs(other[0] - x) < 60 && Math.abs(other[1] - at) < 13) {
                    at = other[1] + 13;
                    moved = true;
                }
            }
        }
        placed.add(new double[] {x, at});
        return at;
    }

    private static void legend(StringBuilder html, Axes axes, boolean gate, boolean tuned) {
        double x = axes.right + 14;
        double y = axes.top + 10;
        String[][] entries = {{"passed", "#22c55e"}, {"failed", "#ef4444"}, {"no gate", "#94a3b8"}};
        for (String[] entry : entries) {
            html.append("<rect x=\"").append(f(x)).append("\" y=\"").append(f(y - 9)).append("\" width=\"10\" height=\"10\" fill=\"")
                    .append(entry[1]).append("\"/><text x=\"").append(f(x + 16)).append("\" y=\"").append(f(y)).append("\">")
                    .append(entry[0]).append("</text>\n");
            y += 18;
        }
        if (tuned) {
            html.append("<line class=\"pareto\" x1=\"").append(f(x)).append("\" x2=\"").append(f(x + 12)).append("\" y1=\"").append(f(y - 4))
                    .append("\" y2=\"").append(f(y - 4)).append("\"/><text x=\"").append(f(x + 16)).append("\" y=\"").append(f(y))
                    .append("\">Pareto front</text>\n");
        }
    }

    /** The gate's limit on the quality delta axis of {@code metric}, or null when the gate has no such limit. */
    private static Double gateLine(List<Stage> stages, String metric) {
        for (int i = stages.size() - 1; i >= 0; i--) {
            for (GateCheck check : stages.get(i).gateChecks()) {
                if (check.limit() == null) {
                    continue;
                }
                Double y = switch (metric + ":" + check.name()) {
                    case "cosine:min_cosine", "agreement:min_agreement" -> check.limit() - 1;
                    case "accuracy:max_accuracy_drop" -> -check.limit() / 100; // accuracy points
                    default -> null;
                };
                if (y != null) {
                    return y;
                }
            }
        }
        return null;
    }

    // ---- time

    private static void durations(StringBuilder html, RunReport report) {
        html.append("<h2>Where the time went</h2>\n");
        List<String> labels = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        for (Stage stage : report.stages()) {
            labels.add(stage.label() + (stage.appended() ? " (appended)" : ""));
            values.add(stage.durationMs() == null ? null : stage.durationMs() / 1000.0);
        }
        html.append("<h3>").append(report.tuning() != null ? "Stages of the chosen candidate" : "Stages").append("</h3>\n");
        bars(html, "stage-chart", labels, values, List.of(), v -> String.format(Locale.ROOT, "%.1f s", v), "seconds", "bar");
        if (report.tuning() != null) {
            labels.clear();
            values.clear();
            List<Integer> chosen = new ArrayList<>();
            for (Candidate c : report.tuning().candidates()) {
                labels.add("candidate " + c.number() + (c.reusedStages() > 0 ? " (" + c.reusedStages() + " reused)" : ""));
                values.add(c.durationMs() == null ? null : c.durationMs() / 1000.0);
                if (c.chosen()) {
                    chosen.add(labels.size() - 1);
                }
            }
            html.append("<h3>Candidates (their own stages; stages reused from an earlier candidate not counted)</h3>\n");
            bars(html, "candidate-chart", labels, values, chosen, v -> String.format(Locale.ROOT, "%.1f s", v), "seconds", "bar");
        }
    }

    /** A horizontal bar chart, one bar per label (none for a null value); {@code highlight}: indexes drawn as chosen. */
    private static void bars(StringBuilder html, String id, List<String> labels, List<Double> values, List<Integer> highlight,
                             DoubleFunction<String> format, String unit, String barClass) {
        if (labels.isEmpty()) {
            html.append("<p class=\"note\">Nothing to show.</p>\n");
            return;
        }
        int rowHeight = 22;
        List<Double> xs = new ArrayList<>(values);
        xs.add(0.0);
        Axes axes = Axes.bars(xs, labels.size() * rowHeight);
        html.append(axes.open(id, unit + " per " + id.replace("-chart", "")));
        axes.frame(html, unit, null, format, null);
        for (int i = 0; i < labels.size(); i++) {
            double y = axes.top + i * rowHeight;
            String label = labels.get(i);
            String shown = label.length() > 28 ? "\u2026" + label.substring(label.length() - 27) : label;
            html.append("<text x=\"").append(f(axes.left - 6)).append("\" y=\"").append(f(y + 15))
                    .append("\" text-anchor=\"end\"><title>").append(escape(label)).append("</title>").append(escape(shown)).append("</text>");
            Double v = values.get(i);
            if (v == null) {
                html.append("<text x=\"").append(f(axes.left + 4)).append("\" y=\"").append(f(y + 15)).append("\">unknown</text>\n");
                continue;
            }
            double w = Math.max(1, axes.px(v) - axes.left);
            html.append("<rect class=\"").append(highlight.contains(i) ? "bar-chosen" : barClass).append("\" x=\"").append(f(axes.left))
                    .append("\" y=\"").append(f(y + 3)).append("\" width=\"").append(f(w)).append("\" height=\"").append(rowHeight - 6)
                    .append("\"><title>").append(escape(label + ": " + format.apply(v))).append("</title></rect><text x=\"")
                    .append(f(axes.left + w + 5)).append("\" y=\"").append(f(y + 15)).append("\">").append(escape(format.apply(v)))
                    .append("</text>\n");
        }
        html.append("</svg>\n");
    }

    // ---- per layer and per node

    private static void perLayer(StringBuilder html, List<Stage> stages) {
        StringBuilder part = new StringBuilder();
        for (Stage stage : stages) {
            JsonNode r = stage.report();
            if (r == null || !r.isObject()) {
                continue;
            }
            List<String> labels = new ArrayList<>();
            List<Double> values = new ArrayList<>();
            for (JsonNode layer : r.path("layers")) {
                Double sparsity = JsonValues.number(layer.get("sparsity"));
                if (sparsity != null && labels.size() < MAX_ROWS) {
                    labels.add(layer.path("tensor").asText());
                    values.add(sparsity);
                }
            }
            if (!labels.isEmpty()) {
                part.append("<h3>").append(escape(stage.label())).append(": sparsity per tensor")
                        .append(countNote(r.path("layers").size())).append("</h3>\n");
                Double overall = JsonValues.number(r.get("sparsity"));
                if (overall != null) {
                    part.append("<p class=\"note\">").append(percent(overall)).append(" of the prunable weights are zero.</p>\n");
                }
                bars(part, "sparsity-" + stage.index(), labels, values, List.of(), ReportHtml::percent, "fraction of zeros", "sparsity");
            }
            List<String[]> rows = new ArrayList<>();
            for (JsonNode node : r.path("nodes")) { // quantization: nodes left in float, and why
                if (!node.path("quantized").asBoolean(true)) {
                    rows.add(new String[] {node.path("node").asText(), node.path("op").asText(), node.path("reason").asText()});
                }
            }
            for (JsonNode node : r.path("skipped")) { // sparsity: weights not pruned, and why
                rows.add(new String[] {node.path("node").asText(), node.path("op").asText(), node.path("reason").asText()});
            }
            reasons(part, stage, rows, "quantize".equals(stage.type()) ? "nodes kept in float or skipped" : "nodes skipped");
            List<String[]> cuts = new ArrayList<>();
            for (JsonNode cut : r.path("cuts")) { // structured pruning: what got narrower
                cuts.add(new String[] {cut.path("node").asText(), cut.path("op").asText(),
                        cut.path("before").asText() + " \u2192 " + cut.path("after").asText()});
            }
            if (!cuts.isEmpty()) {
                part.append("<h3>").append(escape(stage.label())).append(": cuts").append(countNote(cuts.size())).append("</h3>\n");
                table(part, new String[] {"node", "op", "width"}, cuts);
            }
        }
        if (!part.isEmpty()) {
            html.append("<h2>Per layer</h2>\n").append(part);
        }
    }

    private static void reasons(StringBuilder html, Stage stage, List<String[]> rows, String what) {
        if (rows.isEmpty()) {
            return;
        }
        html.append("<h3>").append(escape(stage.label())).append(": ").append(what).append(countNote(rows.size())).append("</h3>\n");
        table(html, new String[] {"node", "op", "why"}, rows);
    }

    private static String countNote(int count) {
        return count > MAX_ROWS ? " (the first " + MAX_ROWS + " of " + count + ")" : "";
    }

    private static void table(StringBuilder html, String[] header, List<String[]> rows) {
        html.append("<table><tr>");
        for (String h : header) {
            html.append("<th>").append(escape(h)).append("</th>");
        }
        html.append("</tr>\n");
        for (String[] r : rows.subList(0, Math.min(rows.size(), MAX_ROWS))) {
            html.append("<tr>");
            for (String cell : r) {
                html.append("<td>").append(escape(cell)).append("</td>");
            }
            html.append("</tr>\n");
        }
        html.append("</table>\n");
    }

    // ---- candidates, notes, stages

    private static void candidatesTable(StringBuilder html, Tuning tuning) {
        html.append("<h2>Candidates</h2>\n<p class=\"note\">").append(escape(String.format(Locale.ROOT,
                        "Strategy %s, up to %d candidates, time budget %s; stopped: %s.", tuning.strategy(), tuning.maxAttempts(),
                        tuning.timeBudget() == null ? "none" : tuning.timeBudget(), tuning.stoppedBy())))
                .append("</p>\n<table><tr><th>#</th><th>changes from the recipe</th><th>size</th><th>quality delta</th>"
                        + "<th>latency ratio</th><th>gate</th><th>Pareto</th><th>chosen</th></tr>\n");
        for (Candidate c : tuning.candidates()) {
            html.append("<tr").append(c.chosen() ? " class=\"chosen\"" : "").append("><td class=\"num\">").append(c.number())
                    .append("</td><td>").append(escape(changes(c))).append("</td><td class=\"num\">")
                    .append(c.output() == null ? "" : escape(bytes(c.output().bytes()))).append("</td><td class=\"num\">")
                    .append(c.qualityMetric() == null ? "" : escape(signed(c.quality()) + " " + c.qualityMetric()))
                    .append("</td><td class=\"num\">").append(c.latencyRatio() == null ? "" : String.format(Locale.ROOT, "%.2fx", c.latencyRatio()))
                    .append("</td><td").append(RunReport.FAILED.equals(c.gate()) ? " class=\"failed\">" : RunReport.PASSED.equals(c.gate())
                            ? " class=\"passed\">" : ">").append(escape(c.gate()))
                    .append(c.gateFailure() == null ? "" : ": " + escape(c.gateFailure())).append("</td><td>")
                    .append(c.pareto() ? "yes" : "").append("</td><td>").append(c.chosen() ? "<b>chosen</b>" : "").append("</td></tr>\n");
        }
        html.append("</table>\n");
    }

    private static void notes(StringBuilder html, RunReport report) {
        List<String> notes = new ArrayList<>(report.notes());
        if (report.evaluation() != null) {
            notes.addAll(report.evaluation().notes());
        }
        if (notes.isEmpty()) {
            return;
        }
        html.append("<h2>Notes</h2>\n<ul>\n");
        for (String note : notes) {
            html.append("<li").append(note.startsWith("warning:") ? " class=\"warn\"" : "").append('>').append(escape(note)).append("</li>\n");
        }
        html.append("</ul>\n");
    }

    private static void stagesTable(StringBuilder html, List<Stage> stages) {
        html.append("<h2>Stages</h2>\n<table><tr><th>stage</th><th>status</th><th>attempt</th><th>duration</th>"
                + "<th>gate</th><th>output</th><th>error</th></tr>\n");
        for (Stage stage : stages) {
            html.append("<tr><td>").append(escape(stage.label())).append(stage.appended() ? " (appended)" : "")
                    .append("</td><td>").append(escape(stage.status())).append("</td><td class=\"num\">").append(stage.attempt())
                    .append("</td><td class=\"num\">").append(stage.durationMs() == null ? "" : seconds(stage.durationMs()))
                    .append("</td><td>").append(escape(stage.gate()))
                    .append("</td><td>").append(stage.output() == null ? "" : escape(model(stage.output())))
                    .append("</td><td>").append(stage.error() == null ? "" : escape(stage.error().code() + ": " + stage.error().message()))
                    .append("</td></tr>\n");
        }
        html.append("</table>\n");
    }

    // ---- the SVG helper: a plot area, its scales, axes and ticks

    /** A plot area of an SVG chart and its linear scales; a null y range for bar charts (rows instead of a y axis). */
    private static final class Axes {
        final int width;
        final int height;
        final double left;
        final double right;
        final double top;
        final double bottom;
        final double x0;
        final double x1;
        final double y0;
        final double y1;

        private Axes(int width, int height, double left, double right, double top, double bottom, double[] x, double[] y) {
            this.width = width;
            this.height = height;
            this.left = left;
            this.right = right;
            this.top = top;
            this.bottom = bottom;
            this.x0 = x[0];
            this.x1 = x[1];
            this.y0 = y[0];
            this.y1 = y[1];
        }

        /** A scatter plot of {@code width} x {@code height} over the values given (nulls ignored), padded. */
        static Axes of(List<Double> xs, List<Double> ys, int width, int height, int leftMargin, int rightMargin) {
            return new Axes(width + rightMargin, height, leftMargin, width, 20, height - 50, range(xs, 0.08), range(ys, 0.1));
        }

        /** A bar chart of rows {@code rowsHeight} high, x from 0 to the largest value. */
        static Axes bars(List<Double> xs, int rowsHeight) {
            double[] x = range(xs, 0);
            return new Axes(760, rowsHeight + 60, 190, 680, 14, 14 + rowsHeight, new double[] {0, x[1] * 1.02}, new double[] {0, 1});
        }

        private static double[] range(List<Double> values, double pad) {
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (Double v : values) {
                if (v != null && Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
            if (lo > hi) {
                return new double[] {0, 1};
            }
            if (hi - lo < 1e-12) {
                double d = Math.abs(hi) > 0 ? Math.abs(hi) * 0.05 : 1;
                return new double[] {lo - d, hi + d};
            }
            double d = (hi - lo) * pad;
            return new double[] {lo - d, hi + d};
        }

        double px(double x) {
            return left + (x - x0) / (x1 - x0) * (right - left);
        }

        double py(double y) {
            return bottom - (y - y0) / (y1 - y0) * (bottom - top);
        }

        String open(String id, String label) {
            return "<svg id=\"" + id + "\" role=\"img\" aria-label=\"" + escape(label) + "\" width=\"" + width + "\" height=\""
                    + height + "\" viewBox=\"0 0 " + width + " " + height + "\">\n";
        }

        /** The axes, the grid and the tick labels; {@code yFormat} null for no y axis. */
        void frame(StringBuilder svg, String xLabel, String yLabel, DoubleFunction<String> xFormat, DoubleFunction<String> yFormat) {
            for (double t : ticks(x0, x1)) {
                double x = px(t);
                svg.append("<line class=\"grid\" x1=\"").append(f(x)).append("\" x2=\"").append(f(x)).append("\" y1=\"").append(f(top))
                        .append("\" y2=\"").append(f(bottom)).append("\"/><text x=\"").append(f(x)).append("\" y=\"").append(f(bottom + 16))
                        .append("\" text-anchor=\"middle\">").append(escape(xFormat.apply(t))).append("</text>\n");
            }
            if (yFormat != null) {
                for (double t : ticks(y0, y1)) {
                    double y = py(t);
                    svg.append("<line class=\"grid\" x1=\"").append(f(left)).append("\" x2=\"").append(f(right)).append("\" y1=\"")
                            .append(f(y)).append("\" y2=\"").append(f(y)).append("\"/><text x=\"").append(f(left - 6)).append("\" y=\"")
                            .append(f(y + 4)).append("\" text-anchor=\"end\">").append(escape(yFormat.apply(t))).append("</text>\n");
                }
                svg.append("<line class=\"axis\" x1=\"").append(f(left)).append("\" x2=\"").append(f(left)).append("\" y1=\"")
                        .append(f(top)).append("\" y2=\"").append(f(bottom)).append("\"/>\n<text transform=\"translate(16,")
                        .append(f((top + bottom) / 2)).append(") rotate(-90)\" text-anchor=\"middle\">").append(escape(yLabel)).append("</text>\n");
            }
            svg.append("<line class=\"axis\" x1=\"").append(f(left)).append("\" x2=\"").append(f(right)).append("\" y1=\"").append(f(bottom))
                    .append("\" y2=\"").append(f(bottom)).append("\"/>\n<text x=\"").append(f((left + right) / 2)).append("\" y=\"")
                    .append(f(bottom + 36)).append("\" text-anchor=\"middle\">").append(escape(xLabel)).append("</text>\n");
        }

        /** Round tick values (1, 2 or 5 times a power of ten apart), about five of them, inside [lo, hi]. */
        static List<Double> ticks(double lo, double hi) {
            double raw = (hi - lo) / 5;
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double step = magnitude * (raw / magnitude < 1.5 ? 1 : raw / magnitude < 3.5 ? 2 : raw / magnitude < 7.5 ? 5 : 10);
            List<Double> ticks = new ArrayList<>();
            for (double t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
                ticks.add(Math.abs(t) < step * 1e-9 ? 0 : t);
            }
            return ticks;
        }
    }

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    // ---- formatting

    private static List<Double> concat(List<Double> values, Double... more) {
        List<Double> all = new ArrayList<>(values);
        all.addAll(java.util.Arrays.asList(more));
        return all;
    }

    /** The quality metric a candidate would use: the first measured of accuracy, agreement and cosine. */
    private static String qualityMetric(Evaluation e) {
        return List.of("accuracy", "agreement", "cosine").stream().filter(e.qualityDelta()::containsKey).findFirst().orElse(null);
    }

    private static String changes(Candidate c) {
        return c.changes().isEmpty() ? "the recipe's own settings" : String.join("; ", c.changes());
    }

    private static String label(List<Stage> stages, int index) {
        return stages.stream().filter(s -> s.index() == index).map(Stage::label).findFirst().orElse("#" + index);
    }

    private static void row(StringBuilder html, String name, String... values) {
        html.append("<tr><th>").append(escape(name)).append("</th>");
        for (String value : values) {
            html.append("<td>").append(escape(value)).append("</td>");
        }
        html.append("</tr>\n");
    }

    private static String model(ModelRef ref) {
        return ref.location() + ", " + bytes(ref.bytes()) + (ref.sha256() == null ? "" : ", SHA-256 " + ref.sha256());
    }

    private static String bytesExact(long bytes) {
        return bytes < 1000 ? bytes + " B" : bytes(bytes) + String.format(Locale.ROOT, " (%,d B)", bytes);
    }

    /** Tick labels for bytes between lo and hi: one unit, as many decimals as the tick spacing needs. */
    private static DoubleFunction<String> byteScale(double lo, double hi) {
        double unit = 1;
        String name = "B";
        String[] names = {"KB", "MB", "GB", "TB"};
        for (int i = 0; i < names.length && Math.abs(hi) >= Math.pow(1000, i + 1); i++) {
            unit = Math.pow(1000, i + 1);
            name = names[i];
        }
        double step = (hi - lo) / 5 / unit;
        int decimals = step >= 1 ? 0 : Math.min(3, (int) Math.ceil(-Math.log10(step)));
        double scale = unit;
        String suffix = " " + name;
        return v -> String.format(Locale.ROOT, "%." + decimals + "f", v / scale) + suffix;
    }

    private static String decimal(Double value, int decimals) {
        return value == null ? "NaN" : String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static String signed(Double value) {
        return value == null ? "NaN" : String.format(Locale.ROOT, "%+.5f", value);
    }

    /** A tick label: the shortest of a few decimals that shows the value. */
    private static String trim(double value) {
        String text = String.format(Locale.ROOT, "%.4f", value).replaceAll("0+$", "");
        return text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
    }

    private static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * fraction);
    }

    private static String millis(Double value) {
        if (value == null) {
            return "?";
        }
        return String.format(Locale.ROOT, value >= 1 ? "%.2f ms" : value >= 0.1 ? "%.3f ms" : "%.4f ms", value);
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    /** A byte count for people: "812 B", "1.7 MB" (powers of 1000, one decimal), as the CLI prints sizes. */
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
