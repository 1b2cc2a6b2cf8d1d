package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReport.Evaluation;
import io.modelpress.core.report.RunReport.GateCheck;
import io.modelpress.core.report.RunReport.Latency;
import io.modelpress.core.report.RunReport.Stage;
import io.modelpress.core.report.RunReport.Verdict;
import io.modelpress.core.report.RunReports;
import io.modelpress.devstack.Endpoints;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.S3Settings;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The one printer of a run report for people, used by compress, watch, fetch and demo: the same report gives the same
 * lines whether it was written in-process or by the pipeline. One fact per line, the label in a column of ten:
 * recipe, input, output, size, fidelity (per output), accuracy, agreement, latency and speed (per batch size), note
 * (one per note, warnings included), candidate (one per tuning candidate), gate, time.
 */
final class ReportPrinter {
    private ReportPrinter() {
    }

    static void print(RunReport report, PrintWriter out) {
        line(out, "recipe", report.recipe().name() + " (" + report.recipe().source() + ")");
        line(out, "input", report.input().location() + " (" + Format.bytes(report.input().bytes()) + ")");
        line(out, "output", report.output().location() + " (" + Format.bytes(report.output().bytes()) + ")");
        line(out, "size", Format.bytes(report.size().inputBytes()) + " -> " + Format.bytes(report.size().outputBytes())
                + (report.size().compressionRatio() == null ? "" : String.format(Locale.ROOT, " (%.2fx smaller)", report.size().compressionRatio())));
        List<String> notes = new ArrayList<>(report.notes());
        Evaluation e = report.evaluation();
        if (e != null) {
            evaluation(e, out);
            notes.addAll(e.notes());
        }
        notes.forEach(note -> line(out, "note", note));
        if (report.tuning() != null) {
            report.tuning().candidates().forEach(c -> line(out, "candidate", candidate(c)));
        }
        line(out, "gate", gate(report));
        String stages = report.stages().stream().filter(s -> s.durationMs() != null)
                .map(s -> s.label() + " " + seconds(s.durationMs()) + (RunReport.CACHE_HIT.equals(s.cache()) ? " from the cache" : ""))
                .collect(Collectors.joining(", "));
        if (report.timings().durationMs() != null) {
            line(out, "time", seconds(report.timings().durationMs()) + " in all (" + stages + ")");
        }
        out.flush();
    }

    private static void evaluation(Evaluation e, PrintWriter out) {
        String over = e.samples() == null ? "" : " over " + e.samples() + " samples";
        for (Map.Entry<String, RunReport.Cosine> cosine : e.cosine().entrySet()) {
            line(out, "fidelity", "output " + cosine.getKey() + ": cosine to the original mean " + decimal(cosine.getValue().mean(), 5)
                    + ", worst " + decimal(cosine.getValue().min(), 5) + " (original: 1.0 by definition)" + over);
        }
        if (e.accuracy() != null) {
            line(out, "accuracy", percent(e.accuracy()) + (e.inputAccuracy() == null ? "" : " (original " + percent(e.inputAccuracy()) + ")"));
        }
        if (e.agreement() != null) {
            line(out, "agreement", percent(e.agreement()) + " of samples get the original's top-1 answer");
        }
        for (int i = 0; i < 2; i++) {
            Latency own = e.latencyMs() == null ? null : i == 0 ? e.latencyMs().batch1() : e.latencyMs().batchN();
            Latency input = e.inputLatencyMs() == null ? null : i == 0 ? e.inputLatencyMs().batch1() : e.inputLatencyMs().batchN();
            // milliseconds before and after; whether that is faster or slower is said by the speed lines, not guessed from two p50s
            if (own != null && own.p50() != null) {
                line(out, "latency", "batch " + own.batch() + ": " + (input != null && input.p50() != null
                        ? String.format(Locale.ROOT, "%.2f ms -> ", input.p50()) : "")
                        + String.format(Locale.ROOT, "%.2f ms p50", own.p50()));
            }
        }
        if (e.latencyVsInput() != null) {
            for (Verdict verdict : new Verdict[] {e.latencyVsInput().batch1(), e.latencyVsInput().batchN()}) {
                if (verdict != null && verdict.text() != null) {
                    line(out, "speed", verdict.text());
                }
            }
        }
    }

    /** e.g. "2: 01-quantize: keep_float 0 -> 1 (...); 1.2 MiB, accuracy -0.35, gate passed; Pareto front; chosen". */
    private static String candidate(RunReport.Candidate c) {
        List<String> parts = new ArrayList<>();
        parts.add(c.output() == null ? "no model" : Format.bytes(c.output().bytes()));
        if (c.quality() != null) {
            parts.add(c.qualityMetric() + (c.qualityMetric().equals("accuracy")
                    ? String.format(Locale.ROOT, " %+.2f points", 100 * c.quality()) : String.format(Locale.ROOT, " %+.4f", c.quality())));
        }
        if (c.latencyRatio() != null) {
            parts.add(String.format(Locale.ROOT, "latency %.2fx", c.latencyRatio()));
        }
        parts.add("gate " + c.gate());
        if (c.pareto()) {
            parts.add("Pareto front");
        }
        if (c.chosen()) {
            parts.add("CHOSEN");
        }
        return c.number() + ": " + (c.changes().isEmpty() ? "the recipe's own settings" : String.join("; ", c.changes()))
                + " - " + String.join(", ", parts);
    }

    private static String gate(RunReport report) {
        return switch (report.gate()) {
            case RunReport.FAILED -> "FAILED: " + report.gateFailure();
            case RunReport.NONE -> "none (the recipe sets no quality gate)";
            default -> {
                List<String> checks = new ArrayList<>();
                for (Stage stage : report.stages()) {
                    for (GateCheck check : stage.gateChecks()) {
                        checks.add(String.format(Locale.ROOT, "%s %s %.4f: %s%s", check.name(), check.name().contains("max_") ? "<=" : ">=",
                                check.limit(), check.value() == null ? "not measured or NaN" : String.format(Locale.ROOT, "%.4f", check.value()),
                                check.passed() ? "" : ", not met"));
                    }
                }
                yield report.gate() + (checks.isEmpty() ? "" : " (" + String.join("; ", checks) + ")");
            }
        };
    }

    /**
     * Reads a fetched report.json and prints it; a report this version cannot read (written before schema_version 1,
     * or by a newer ModelPress) is named, not summarised.
     */
    static void printFile(Path report, PrintWriter out) {
        RunReport read;
        try {
            read = RunReports.read(report);
        } catch (ModelPressException e) {
            line(out, "report", "not summarised: " + e.getMessage());
            out.flush();
            return;
        }
        print(read, out);
    }

    /**
     * Prints a succeeded run's report.json from the local stack's store (watch); without a local stack, or when the
     * store cannot be read, says where the report is instead.
     */
    static void printStored(Endpoints endpoints, RunState run, PrintWriter out) {
        String key = run.outgoing() + RunReports.JSON_FILE;
        if (endpoints != null) {
            try (ArtifactStore store = new ArtifactStore(S3Settings.of(endpoints.s3Endpoint(), endpoints.s3AccessKey(),
                    endpoints.s3SecretKey(), endpoints.bucket()))) {
                JsonNode tree = store.getJson(key, JsonNode.class).orElse(null);
                if (tree != null) {
                    print(RunReports.read(tree, "s3://" + store.bucket() + "/" + key), out);
                    return;
                }
            } catch (ModelPressException e) {
                line(out, "report", "not read (" + e.getMessage() + "); 'modelpress fetch " + run.runId() + "' downloads and prints it");
                out.flush();
                return;
            }
        }
        line(out, "report", key + ": 'modelpress fetch " + run.runId() + "' downloads and prints it");
        out.flush();
    }

    private static void line(PrintWriter out, String label, String text) {
        out.println(String.format(Locale.ROOT, "%-10s", label) + text);
    }

    /** Reports write NaN as null: it prints as NaN, so that a model that returned NaN does not look like a cosine of 0. */
    private static String decimal(Double value, int decimals) {
        return value == null ? "NaN" : String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * fraction);
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }
}
