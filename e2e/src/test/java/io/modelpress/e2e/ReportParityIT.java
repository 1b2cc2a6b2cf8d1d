package io.modelpress.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One model and one recipe through {@code modelpress compress} (in-process) and through the pipeline (submit, watch,
 * fetch): the same run report, field for field, and the same printed lines.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ReportParityIT {
    /** No eval stage: both ways must append the same final evaluation. */
    private static final String RECIPE = """
            name: parity
            stages:
              - quantize: { mode: dynamic }
            """;
    /** Keys that only the pipeline fills (null in-process: no worker hand-off, stage outputs are temporary files). */
    private static final List<String> PIPELINE_ONLY = List.of("stages[].worker_ms.", "stages[].output.");

    private final E2eStack e2e = E2eStack.shared();

    @TempDir
    Path dir;

    private String[] client(String... args) {
        String[] all = Arrays.copyOf(args, args.length + 4);
        all[args.length] = "--api";
        all[args.length + 1] = e2e.stack.apiUrl();
        all[args.length + 2] = "--dir";
        all[args.length + 3] = e2e.stack.directory().root().toString();
        return all;
    }

    @Test
    void compressAndThePipelineWriteTheSameReportAndPrintItTheSameWay() throws Exception {
        Path model = Files.write(dir.resolve("parity.onnx"), E2eStack.mlp(64, 256, 16, 11));
        Path recipe = Files.writeString(dir.resolve("recipe.yaml"), RECIPE, StandardCharsets.UTF_8);

        Path local = dir.resolve("local");
        Cli compress = Cli.run("compress", model.toString(), "--recipe", recipe.toString(), "--out", local.toString(), "--threads", "1");
        assertThat(compress.exitCode()).as(compress.toString()).isZero();

        Cli submit = Cli.run(client("submit", model.toString(), "--recipe", recipe.toString(), "--name", E2eStack.uniqueName("parity")));
        assertThat(submit.exitCode()).as(submit.toString()).isZero();
        String runId = submit.out().strip();
        Cli watch = Cli.run(client("watch", runId, "--poll", "--plain"));
        assertThat(watch.exitCode()).as(watch.toString()).isZero();
        Path fetched = dir.resolve("fetched");
        Cli fetch = Cli.run(client("fetch", runId, "--out", fetched.toString()));
        assertThat(fetch.exitCode()).as(fetch.toString()).isZero();

        RunReport inProcess = RunReports.read(local.resolve("report.json"));
        RunReport pipeline = RunReports.read(fetched.resolve("report.json"));

        assertThat(pipeline.schemaVersion()).isEqualTo(inProcess.schemaVersion()).isEqualTo(RunReport.SCHEMA_VERSION);
        assertThat(pipeline.stages()).extracting(RunReport.Stage::label, RunReport.Stage::appended)
                .isEqualTo(inProcess.stages().stream().map(s -> org.assertj.core.groups.Tuple.tuple(s.label(), s.appended())).toList())
                .containsExactly(org.assertj.core.groups.Tuple.tuple("01-quantize", false), org.assertj.core.groups.Tuple.tuple("02-eval", true));
        Set<String> pipelineFields = fields(RunReports.toTree(pipeline));
        pipelineFields.removeIf(field -> PIPELINE_ONLY.stream().anyMatch(field::startsWith));
        assertThat(pipelineFields).as("the report's fields, stage reports included").isEqualTo(fields(RunReports.toTree(inProcess)));
        // the same pass on the same bytes, evaluated by the same code on the same seeded inputs
        assertThat(pipeline.input().sha256()).isEqualTo(inProcess.input().sha256());
        assertThat(pipeline.output().sha256()).as("the quantized model").isEqualTo(inProcess.output().sha256());
        assertThat(pipeline.evaluation().cosine()).isEqualTo(inProcess.evaluation().cosine());
        assertThat(pipeline.gate()).isEqualTo(inProcess.gate()).isEqualTo(RunReport.NONE);

        List<String> printedLocally = printed(compress.out(), "report");
        List<String> printedFetched = printed(fetch.out(), "fetched");
        assertThat(labels(printedFetched)).isEqualTo(labels(printedLocally))
                .containsSubsequence("recipe", "input", "output", "size", "fidelity", "latency", "speed", "note", "gate", "time");
        assertThat(watch.out()).as("watch prints the report as fetch does").contains(String.join("\n", printedFetched));
    }

    /** The printer's lines of a command's output, without the command's own lines (they start with {@code own}). */
    private static List<String> printed(String out, String own) {
        return out.lines().filter(line -> !line.startsWith(own + " ")).toList();
    }

    private static List<String> labels(List<String> lines) {
        return lines.stream().map(line -> line.substring(0, Math.min(10, line.length())).strip()).toList();
    }

    /** Every key path of a JSON tree, array elements as {@code []}. */
    private static Set<String> fields(JsonNode tree) {
        Set<String> fields = new TreeSet<>();
        collect(tree, "", fields);
        return fields;
    }

    private static void collect(JsonNode node, String path, Set<String> fields) {
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                String child = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
                fields.add(child);
                collect(field.getValue(), child, fields);
            }
        } else if (node.isArray()) {
            node.forEach(element -> collect(element, path + "[]", fields));
        }
    }
}
