package io.modelpress.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class CompressCommandTest {
    @TempDir
    Path dir;

    private Path mlp() {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(64, 256, 16, false, 7)).write(file);
        return file;
    }

    @Test
    void builtInRecipeWritesModelAndReportWithEvidence() throws Exception {
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", "fp16", "--out", out.toString(), "--threads", "1", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(out.resolve("model.onnx")).exists();
        JsonNode report = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(out.resolve("report.json")));
        assertThat(report).isEqualTo(r.json());
        assertThat(report.get("schema_version").asInt()).isEqualTo(RunReport.SCHEMA_VERSION);
        assertThat(report.get("recipe").get("source").asText()).isEqualTo("built-in:fp16");
        assertThat(report.get("size").get("compression_ratio").asDouble()).isBetween(1.8, 2.1);
        JsonNode evaluation = report.get("evaluation");
        assertThat(evaluation.get("cosine").get("y").get("mean").asDouble()).isGreaterThan(0.999);
        assertThat(evaluation.get("notes").toString()).contains("synthetic");
        assertThat(report.get("stages")).hasSize(2);
        assertThat(report.get("gate").asText()).as("the built-in fp16 recipe has a default gate").isEqualTo("passed");
        JsonNode speed = evaluation.get("latency_vs_input").get("batch_1");
        assertThat(speed.get("verdict").asText()).isIn("faster", "slower", "no measurable difference");
        assertThat(speed.get("text").asText()).contains("at batch 1 (");
        assertThat(speed.get("pairs").asInt()).isGreaterThanOrEqualTo(8);
        assertThat(out.resolve("report.html")).exists();
        OnnxChecker.assertValid(out.resolve("model.onnx"));
    }

    @Test
    void failedGateExitsThreeAndKeepsTheOutputs() throws Exception {
        Path recipe = Files.writeString(dir.resolve("strict.yaml"), """
                stages:
                  - quantize: { mode: weight-only, weights: int4, block_size: 16 }
                  - eval: { gate: { min_compression_ratio: 50 } }
                """);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", recipe.toString(), "--out", out.toString(), "--threads", "1");
        assertThat(r.exitCode()).as(r.err()).isEqualTo(3);
        assertThat(out.resolve("model.onnx")).exists();
        assertThat(r.out()).contains("gate      FAILED: 02-eval: ").contains("min_compression_ratio");
        assertThat(RunReports.read(out.resolve("report.json")).run().state()).isEqualTo("FAILED");
    }

    @Test
    void aTuningRecipeShowsEveryCandidateAndKeepsTheOneThatPassed() throws Exception {
        // weight-only int4 in blocks of 128 misses the cosine limit; the int8 of the first backoff step keeps it
        Path recipe = Files.writeString(dir.resolve("tuned.yaml"), """
                stages:
                  - quantize: { mode: weight-only, weights: int4, block_size: 128 }
                  - eval: { metrics: [cosine, size], gate: { min_cosine: 0.9999 } }
                tuning: { on_gate_failure: tune, max_attempts: 3 }
                """);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", recipe.toString(), "--out", out.toString(), "--threads", "1");
        assertThat(r.exitCode()).as(r.out() + r.err()).isZero();
        assertThat(r.err()).contains("tuning: candidate 2 of 3: 01-quantize: weights int4 -> int8");
        assertThat(r.out()).contains("candidate 1: the recipe's own settings - ").contains("gate failed")
                .contains("candidate 2: 01-quantize: weights int4 -> int8 - ").contains("CHOSEN")
                .contains("note      tuning (backoff): goal met after 2 candidates");
        assertThat(out.resolve("candidates/01/model.onnx")).exists();
        assertThat(Files.readAllBytes(out.resolve("model.onnx"))).isEqualTo(Files.readAllBytes(out.resolve("candidates/02/model.onnx")));
    }

    @Test
    void aSecondRunOfTheSameRecipeComesFromTheCacheAndAChangedParameterMissesIt() throws Exception {
        Path model = mlp();
        Path cache = dir.resolve("cache");
        String[] run = {"compress", model.toString(), "--recipe", "int8-dynamic", "--threads", "1", "--cache-dir", cache.toString(), "--out"};
        CliRunner first = CliRunner.run(concat(run, dir.resolve("first").toString()));
        assertThat(first.exitCode()).as(first.err()).isZero();
        RunReport stored = RunReports.read(dir.resolve("first/report.json"));
        assertThat(stored.stages()).extracting(RunReport.Stage::cache).containsOnly(RunReport.CACHE_STORED);

        CliRunner second = CliRunner.run(concat(run, dir.resolve("second").toString()));
        assertThat(second.exitCode()).as(second.err()).isZero();
        RunReport reused = RunReports.read(dir.resolve("second/report.json"));
        assertThat(reused.stages()).extracting(RunReport.Stage::cache).containsOnly(RunReport.CACHE_HIT);
        assertThat(second.out()).contains("01-quantize ").contains(" from the cache");
        assertThat(Files.readAllBytes(dir.resolve("second/model.onnx"))).isEqualTo(Files.readAllBytes(dir.resolve("first/model.onnx")));
        assertThat(reused.evaluation().cosine()).isEqualTo(stored.evaluation().cosine());

        // another setting is another result: computed and stored, not reused
        Path recipe = Files.writeString(dir.resolve("per-tensor.yaml"), """
                stages:
                  - quantize: { mode: dynamic, granularity: per-tensor }
                """);
        CliRunner changed = CliRunner.run("compress", model.toString(), "--recipe", recipe.toString(), "--threads", "1",
                "--cache-dir", cache.toString(), "--out", dir.resolve("changed").toString());
        assertThat(changed.exitCode()).as(changed.err()).isZero();
        assertThat(RunReports.read(dir.resolve("changed/report.json")).stages().get(0).cache()).isEqualTo(RunReport.CACHE_STORED);

        // --no-cache computes and records no cache use
        CliRunner off = CliRunner.run(concat(new String[] {"compress", model.toString(), "--threads", "1", "--no-cache",
                "--cache-dir", cache.toString(), "--out"}, dir.resolve("off").toString()));
        assertThat(off.exitCode()).as(off.err()).isZero();
        assertThat(RunReports.read(dir.resolve("off/report.json")).stages()).extracting(RunReport.Stage::cache).containsOnlyNulls();
    }

    private static String[] concat(String[] head, String last) {
        String[] all = java.util.Arrays.copyOf(head, head.length + 1);
        all[head.length] = last;
        return all;
    }

    @Test
    void aRecipeWithoutAGateSaysSoInsteadOfPassed() throws Exception {
        Path recipe = Files.writeString(dir.resolve("ungated.yaml"), """
                stages:
                  - convert: { to: fp16 }
                  - eval: { metrics: [cosine] }
                """);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", recipe.toString(), "--out", out.toString(), "--threads", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("gate      none (the recipe sets no quality gate)").doesNotContain("passed")
                .contains("report    " + out.resolve("report.json"));
    }

    @Test
    void brokenRecipeIsBadInputWithItsLine() throws Exception {
        Path recipe = Files.writeString(dir.resolve("bad.yaml"), "stages:\n  - quantize: { mode: fast }\n");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", recipe.toString(), "--out", dir.resolve("o").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("bad.yaml:2:").contains("stages[0].quantize.mode").contains("[BAD_RECIPE]");
        assertThat(dir.resolve("o/model.onnx")).doesNotExist();
    }

    /** Structured pruning, then dynamic INT8, in-process: the report has every stage, the model is smaller and valid. */
    @Test
    void pruneRecipeCompressesInProcess() throws Exception {
        Path recipe = Files.writeString(dir.resolve("prune.yaml"), """
                stages:
                  - prune: { method: structured, ratio: 0.5 }
                  - quantize: { mode: dynamic }
                  - eval: { metrics: [cosine, size] }
                """);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", recipe.toString(), "--out", out.toString(), "--threads", "1", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        RunReport report = RunReports.read(out.resolve("report.json"));
        assertThat(report.stages()).extracting(RunReport.Stage::type).containsExactly("prune", "quantize", "eval");
        JsonNode prune = report.stages().get(0).report();
        assertThat(prune.path("after").path("parameters").asLong()).isLessThan(prune.path("before").path("parameters").asLong() * 6 / 10);
        assertThat(prune.path("groups").size()).isPositive();
        assertThat(report.size().compressionRatio()).isGreaterThan(6.0);
        OnnxChecker.assertValid(out.resolve("model.onnx"));
    }

    @Test
    void badPruneKeyIsBadInputNamingTheKey() throws Exception {
        Path recipe = Files.writeString(dir.resolve("bad-prune.yaml"), "stages:\n  - prune: { method: magnitude, ratio: 0.5, round_to: 16 }\n");
        CliRunner r = CliRunner.run("compress", mlp().toString(), "--recipe", recipe.toString(), "--out", dir.resolve("o").toString());
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("bad-prune.yaml:2:").contains("stages[0].prune.round_to: applies only to method: structured")
                .contains("[BAD_RECIPE]");
        assertThat(dir.resolve("o/model.onnx")).doesNotExist();
    }
}
