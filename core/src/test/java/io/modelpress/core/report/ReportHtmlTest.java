package io.modelpress.core.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.report.RunReport.Candidate;
import io.modelpress.core.report.RunReport.ModelRef;
import io.modelpress.core.report.RunReport.Stage;
import io.modelpress.core.report.RunReport.StageError;
import io.modelpress.core.report.RunReport.Tuning;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** report.html as markup: the charts' SVG elements, escaping, and nothing that would be fetched. */
class ReportHtmlTest {
    private static final ObjectMapper PLAIN = new ObjectMapper();
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    private static JsonNode tree(String json) {
        try {
            return PLAIN.readTree(json);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** {@code text} as it reads inside a JSON string. */
    private static String jsonText(String text) {
        String literal = PLAIN.valueToTree(text).toString();
        return literal.substring(1, literal.length() - 1);
    }

    /** A candidate pruned to {@code ratio} and quantized, that keeps {@code cosine} against a min_cosine 0.98 gate. */
    private static Candidate candidate(int number, double ratio, double cosine, long bytes, String hostile) {
        JsonNode prune = tree("""
                {"method": "magnitude", "ratio": %s, "sparsity": %s,
                 "layers": [{"tensor": "fc1.weight%s", "op": "MatMul", "sparsity": %s},
                            {"tensor": "fc2.weight", "op": "MatMul", "sparsity": %s}],
                 "skipped": [{"node": "embed", "op": "Gather", "tensor": "emb", "reason": "embeddings are not pruned"}]}
                """.formatted(ratio, ratio, jsonText(hostile), ratio, ratio * 0.8));
        JsonNode quantize = tree("""
                {"mode": "dynamic", "quantized_nodes": 1, "skipped_nodes": 1,
                 "nodes": [{"node": "fc1", "op": "MatMul", "quantized": true},
                           {"node": "fc2", "op": "MatMul", "quantized": false, "reason": "kept in float (keep_float: 1)"}]}
                """);
        boolean passed = cosine >= 0.98;
        JsonNode eval = tree("""
                {"samples": 256, "outputs": {"y": {"cosine": {"mean": %s, "min": %s}}},
                 "latency_ms": {"batch_1": {"p50": 1.0, "p95": 1.2, "mean": 1.1}},
                 "reference_latency_ms": {"batch_1": {"p50": 1.5, "p95": 1.6, "mean": 1.5}},
                 "latency_vs_reference": {"batch_1": {"ratio": 0.66, "ratio_min": 0.6, "ratio_max": 0.7, "pairs": 12,
                   "verdict": "faster", "text": "1.52x faster at batch 1 (1.43x-1.67x in 12 session pairs)"}},
                 "gate_checks": [{"name": "min_cosine", "limit": 0.98, "value": %s, "passed": %s}], "gate": "%s"}
                """.formatted(cosine, cosine - 0.01, cosine, passed, passed ? "passed" : "failed"));
        Instant start = T0.plusSeconds(10L * number);
        List<Stage> stages = List.of(
                Stage.of(0, "prune", false, "SUCCEEDED", 1, start, start.plusSeconds(2), null, null, null, prune),
                Stage.of(1, "quantize", false, "SUCCEEDED", 1, start.plusSeconds(2), start.plusSeconds(3), null, null, null, quantize),
                Stage.of(2, "eval", false, passed ? "SUCCEEDED" : "FAILED", 1, start.plusSeconds(3), start.plusSeconds(5), null, null,
                        passed ? null : new StageError("GATE_FAILED", "min_cosine = " + cosine + ", below the limit 0.9800"), eval));
        List<String> changes = number == 1 ? List.of() : List.of("01-prune: ratio 0.9 -> " + ratio);
        return Candidate.of(number, changes, 0, stages, new ModelRef("/out/candidates/0" + number + "/model.onnx", bytes, "ab"));
    }

    /** A run that tuned: four candidates, two on the Pareto front, the third chosen. */
    static RunReport tuned(String modelName, String hostile) {
        List<Candidate> candidates = new ArrayList<>(List.of(candidate(1, 0.9, 0.90, 30_000, hostile),
                candidate(2, 0.675, 0.95, 40_000, hostile), candidate(3, 0.45, 0.985, 52_000, hostile),
                candidate(4, 0.225, 0.97, 60_000, hostile)));
        Tuning tuning = Tuning.of("search", 4, "PT10M", Tuning.ALL_TRIED, candidates);
        Candidate chosen = tuning.chosenCandidate();
        return RunReport.assemble(new RunReport.Run(RunReport.LOCAL_RUN, modelName, "cli", RunReport.SUCCEEDED_STATE, null),
                new RunReport.RecipeRef("prune-and-quantize", "file", "stages: []\n"), new ModelRef("/in/" + modelName + ".onnx", 120_000, "cd"),
                chosen.output(), chosen.stages(), T0, T0.plusSeconds(60), tuning);
    }

    private static int count(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    private static String svg(String html, String id) {
        int start = html.indexOf("<svg id=\"" + id + "\"");
        assertThat(start).as("svg " + id).isNotNegative();
        return html.substring(start, html.indexOf("</svg>", start) + 6);
    }

    static void assertNothingIsFetched(String html) {
        assertThat(html.toLowerCase()).doesNotContain("http:").doesNotContain("https:").doesNotContain("//")
                .doesNotContain("src=").doesNotContain("@import").doesNotContain("url(").doesNotContain("<script")
                .doesNotContain("<link").doesNotContain("<img").doesNotContain("<iframe");
    }

    @Test
    void aTunedRunHasAScatterOfItsCandidatesWithTheParetoFrontAndTheGate() {
        RunReport report = tuned("mlp", "");
        Tuning tuning = report.tuning();
        assertThat(tuning.chosen()).isEqualTo(3);
        assertThat(tuning.candidates()).extracting(Candidate::pareto).containsExactly(true, true, true, false);

        String html = ReportHtml.render(report);

        String chart = svg(html, "quality-chart");
        assertThat(count(chart, "<circle ")).isEqualTo(4);
        assertThat(count(chart, "<circle class=\"[a-z]+ chosen\"")).isEqualTo(1);
        assertThat(chart).contains("<circle class=\"passed chosen\"").contains(">3 (chosen)</text>")
                .contains(">1</text>").contains(">2</text>").contains(">4</text>");
        // the front joins candidates 1, 2 and 3, smallest first
        Matcher front = Pattern.compile("<polyline class=\"pareto\" points=\"([^\"]+)\"").matcher(chart);
        assertThat(front.find()).isTrue();
        assertThat(front.group(1).trim().split(" ")).hasSize(3);
        // min_cosine 0.98 is the quality delta -0.02
        assertThat(chart).contains("<line class=\"gate\"").contains("gate -0.02</text>");
        assertThat(chart).contains("output size").contains("quality delta, cosine");

        assertThat(html).contains("tuning: goal met").contains("gate passed").contains("The output is candidate 3, 01-prune: ratio 0.9 -&gt; 0.45.");
        assertThat(svg(html, "stage-chart")).contains("01-prune").contains("03-eval").contains("2.0 s");
        assertThat(count(svg(html, "candidate-chart"), "<rect class=\"bar")).isEqualTo(4);
        assertThat(svg(html, "candidate-chart")).contains("<rect class=\"bar-chosen\"");
        assertThat(count(svg(html, "sparsity-0"), "<rect class=\"sparsity\"")).isEqualTo(2);
        assertThat(html).contains("<td>fc2</td><td>MatMul</td><td>kept in float (keep_float: 1)</td>")
                .contains("<td>embed</td><td>Gather</td><td>embeddings are not pruned</td>");
        // the candidates table: one row each, the chosen marked
        assertThat(count(html, "<tr( class=\"chosen\")?><td class=\"num\">\\d</td>")).isEqualTo(4);
        assertThat(html).contains("<tr class=\"chosen\"><td class=\"num\">3</td>");
        assertThat(html).contains("1.52x faster at batch 1").contains("<th>size</th><td>120.0 KB (120,000 B)</td><td>52.0 KB (52,000 B)</td>");
        // the raw report at the end, collapsed
        assertThat(html).containsPattern("<details><summary>report.json[^<]*</summary>\\s*<pre>\\{").contains("&quot;schema_version&quot; : 1");
        assertThat(html.indexOf("<details><summary>report.json")).isGreaterThan(html.indexOf("<h2>Candidates</h2>"));
        assertNothingIsFetched(html);
    }

    @Test
    void withoutTuningTheChartShowsTheInputAndTheOutput() {
        String html = ReportHtml.render(RunReportTest.sample("r", "m"));

        String chart = svg(html, "quality-chart");
        // the sample's first quality metric is accuracy (-0.02), its gate min_cosine does not map onto that axis
        assertThat(count(chart, "<circle ")).isEqualTo(2);
        assertThat(chart).contains(">input</text>").contains(">output</text>").contains("quality delta, accuracy")
                .doesNotContain("class=\"gate\"").doesNotContain("<polyline");
        assertThat(html).contains("The gate&#39;s limit is not on this axis").doesNotContain("candidate-chart")
                .doesNotContain("<h2>Candidates</h2>");
        assertThat(html).contains("run FAILED").contains("gate failed").contains("Gate: 02-eval: min_cosine could not be measured")
                .contains("1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)")
                .contains("<td>min_cosine</td><td>0.9800</td><td>not measured or NaN</td>")
                .contains("NaN (the output held NaN or infinite values)").contains("02-eval (appended)");
        assertThat(count(svg(html, "stage-chart"), "<rect class=\"bar\"")).isEqualTo(2);
        assertNothingIsFetched(html);
    }

    @Test
    void aReportWithoutEvaluationOrQualityStillRenders() {
        RunReport report = RunReport.assemble(new RunReport.Run("run-1", "m", "api", RunReport.SUCCEEDED_STATE, null),
                new RunReport.RecipeRef("x", "api", null), new ModelRef("/in.onnx", 10, null), new ModelRef("/out.onnx", 0, null),
                List.of(Stage.of(0, "convert", false, "SUCCEEDED", 1, null, null, null, null, null, null)), null, null);

        String html = ReportHtml.render(report);

        assertThat(html).contains("No stage evaluated").contains("No chart: no quality").contains("no quality gate")
                .contains("empty output").contains(">unknown</text>").doesNotContain("quality-chart");
        assertNothingIsFetched(html);
    }

    @Test
    void everyStringFromTheReportIsEscaped() {
        String hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>\"&";
        RunReport report = tuned(hostile, hostile);

        String html = ReportHtml.render(report);

        assertThat(html).doesNotContain("<script").doesNotContain("<img").doesNotContain("'x'")
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&amp;");
        // in the page's title, the headline, the sparsity chart's labels and the raw report
        assertThat(count(html, Pattern.quote("&lt;script&gt;"))).isGreaterThanOrEqualTo(4);
        assertThat(svg(html, "sparsity-0")).contains("&lt;img src=x");
    }
}
