package io.modelpress.core.tune;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.report.RunReport;
import io.modelpress.core.report.RunReports;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Accuracy-aware tuning through {@link Compressor}: a candidate that misses its gate is followed by gentler ones, the
 * run keeps the best, every candidate is in the report and under candidates/, each judged by ONNX Runtime in the eval
 * stage. Models: a random 32 -> 128 -> 10 MLP (magnitude pruning: 90 % of the weights cost it cosine 0.29, 22.5 %
 * cost 0.008) and a small random CNN under static INT8 that clips activations at the 90th percentile.
 */
class TuningTest {
    @TempDir
    Path dir;

    private Path mlp() {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(32, 128, 10, false, 11)).write(file);
        return file;
    }

    private Path mlpData() {
        Path file = dir.resolve("mlp.npz");
        NpyWriter.writeNpz(file, Map.of("x", HostArray.of(SmallModels.random(new Random(12), 256 * 32, 1f), 256, 32)), false);
        return file;
    }

    private Path cnn() {
        Path file = dir.resolve("cnn.onnx");
        OnnxModel.of(TestCnns.fashionLike(8, 16, 32, false, 5)).write(file);
        return file;
    }

    private Path cnnData() {
        Path file = dir.resolve("cnn.npz");
        NpyWriter.writeNpz(file, Map.of("input", HostArray.of(TestCnns.randomInputs(7, 128 * 28 * 28), 128, 1, 28, 28)), false);
        return file;
    }

    private Compressor.Result compress(Path model, Path data, String yaml) {
        return Compressor.run(new Compressor.Request(model, RecipeParser.parse(yaml, "tune.yaml"), List.of(data), null,
                dir.resolve("out"), 1), QUIET);
    }

    private static final String PRUNE_90 = "stages:\n  - prune: { method: magnitude, ratio: 0.9 }\n"
            + "  - eval: { metrics: [cosine, agreement], gate: { min_cosine: %s } }\n";

    @Test
    void backoffLowersThePruningRatioUntilTheGatePasses() throws Exception {
        Compressor.Result result = compress(mlp(), mlpData(), String.format(PRUNE_90, "0.98")
                + "tuning: { on_gate_failure: tune, strategy: backoff, max_attempts: 5 }\n");
        RunReport report = result.report();
        RunReport.Tuning tuning = report.tuning();

        assertThat(tuning.outcome()).isEqualTo(RunReport.Tuning.GOAL_MET);
        assertThat(tuning.stoppedBy()).isEqualTo(RunReport.Tuning.PASSED_STOP);
        assertThat(tuning.candidates()).extracting(RunReport.Candidate::changes).containsExactly(List.of(),
                List.of("01-prune: ratio 0.9 -> 0.675"), List.of("01-prune: ratio 0.9 -> 0.45"), List.of("01-prune: ratio 0.9 -> 0.225"));
        assertThat(tuning.candidates()).extracting(RunReport.Candidate::gate)
                .containsExactly(RunReport.FAILED, RunReport.FAILED, RunReport.FAILED, RunReport.PASSED);
        // each gentler candidate misses by less
        assertThat(tuning.candidates().subList(0, 3)).extracting(RunReport.Candidate::shortfall).isSortedAccordingTo((a, b) -> Double.compare(b, a));
        assertThat(tuning.chosen()).isEqualTo(4);
        assertThat(result.gateFailure()).isNull();
        assertThat(report.run().state()).isEqualTo(RunReport.SUCCEEDED_STATE);
        assertThat(report.gate()).isEqualTo(RunReport.PASSED);
        assertThat(report.evaluation().cosine().values().iterator().next().mean()).isGreaterThanOrEqualTo(0.98);
        assertThat(report.stages().get(0).report().path("ratio").asDouble()).isEqualTo(0.225);
        assertThat(report.notes()).anyMatch(n -> n.startsWith("tuning (backoff): goal met after 4 candidates"));

        // the output is the chosen candidate's model, and every candidate's model is kept and runs
        Path out = dir.resolve("out");
        for (int n = 1; n <= 4; n++) {
            Path kept = out.resolve("candidates/0" + n + "/model.onnx");
            float[] logits = Ort.runFirstOutput(kept, Map.of("x", new Ort.Floats(SmallModels.random(new Random(3), 4 * 32, 1f), 4, 32)));
            assertThat(logits).hasSize(40);
            assertThat(tuning.candidates().get(n - 1).output().sha256()).isEqualTo(sha(kept));
        }
        assertThat(Files.readAllBytes(result.model())).isEqualTo(Files.readAllBytes(out.resolve("candidates/04/model.onnx")));
        // report.json holds the tuning section as the run wrote it
        assertThat(RunReports.read(result.reportFile()).tuning()).isEqualTo(tuning);
    }

    @Test
    void aGoalNoCandidateMeetsKeepsTheClosestAndSaysGoalNotMet() {
        Compressor.Result result = compress(mlp(), mlpData(), String.format(PRUNE_90, "0.9999")
                + "tuning: { on_gate_failure: tune, max_attempts: 3 }\n");
        RunReport.Tuning tuning = result.report().tuning();

        assertThat(tuning.candidates()).hasSize(3).allMatch(c -> c.gate().equals(RunReport.FAILED));
        assertThat(tuning.outcome()).isEqualTo(RunReport.Tuning.GOAL_NOT_MET);
        assertThat(tuning.stoppedBy()).isEqualTo(RunReport.Tuning.ALL_TRIED);
        assertThat(tuning.chosen()).isEqualTo(3); // ratio 0.45 comes closest
        assertThat(result.gateFailure()).contains("min_cosine");
        assertThat(result.report().run().state()).isEqualTo(RunReport.FAILED_STATE);
        assertThat(result.report().run().error()).startsWith("goal not met: none of the 3 candidates passed its gate");
        assertThat(result.report().stages().get(0).report().path("ratio").asDouble()).isEqualTo(0.45);
    }

    @Test
    void noCandidateStartsPastTheTimeBudget() {
        Compressor.Result result = compress(mlp(), mlpData(), String.format(PRUNE_90, "0.98")
                + "tuning: { on_gate_failure: tune, max_attempts: 5, time_budget: 1ms }\n");
        RunReport.Tuning tuning = result.report().tuning();

        assertThat(tuning.candidates()).hasSize(1);
        assertThat(tuning.stoppedBy()).isEqualTo(RunReport.Tuning.TIME_BUDGET);
        assertThat(tuning.outcome()).isEqualTo(RunReport.Tuning.GOAL_NOT_MET);
        assertThat(result.gateFailure()).isNotNull();
    }

    @Test
    void fallbackLeavesTheMostSensitiveNodesInFloat() {
        String recipe = "stages:\n  - quantize: { mode: static, calibration: percentile, percentile: 90 }\n"
                + "  - eval: { metrics: [cosine], gate: { min_cosine: %s } }\n"
                + "tuning: { on_gate_failure: tune, strategy: fallback, max_attempts: 6 }\n";
        Compressor.Result result = compress(cnn(), cnnData(), String.format(recipe, "0.9"));
        RunReport.Tuning tuning = result.report().tuning();

        assertThat(tuning.outcome()).isEqualTo(RunReport.Tuning.GOAL_MET);
        assertThat(tuning.chosen()).isEqualTo(2);
        assertThat(tuning.chosenCandidate().changes()).containsExactly("01-quantize: keep_float 0 -> 1 (the most sensitive node stays in float)");
        assertThat(result.report().stages().get(0).report().toString()).contains("kept in float (keep_float: 1)");
        assertThat(Ort.runFirstOutput(result.model(), Map.of("input", new Ort.Floats(TestCnns.randomInputs(3, 2 * 28 * 28), 2, 1, 28, 28))))
                .hasSize(20);

        // falling back every node compresses nothing: that candidate is no way to meet the goal
        Compressor.Result strict = Compressor.run(new Compressor.Request(dir.resolve("cnn.onnx"),
                RecipeParser.parse(String.format(recipe, "0.999"), "tune.yaml"), List.of(dir.resolve("cnn.npz")), null,
                dir.resolve("strict"), 1), QUIET);
        RunReport.Tuning strictTuning = strict.report().tuning();
        assertThat(strictTuning.outcome()).isEqualTo(RunReport.Tuning.GOAL_NOT_MET);
        RunReport.Candidate everyNode = strictTuning.candidates().get(3);
        assertThat(everyNode.changes().get(0)).contains("keep_float 0 -> 4");
        assertThat(everyNode.gate()).isEqualTo(RunReport.FAILED);
        assertThat(everyNode.gateFailure()).contains("no stage changed the model");
        assertThat(strictTuning.chosen()).isNotEqualTo(4);
    }

    @Test
    void searchRunsTheGridReusesSharedStagesAndChoosesTheSmallestPassing() {
        Compressor.Result result = compress(mlp(), mlpData(), "stages:\n  - prune: { method: magnitude, ratio: 0.9 }\n"
                + "  - quantize: { mode: dynamic }\n"
                + "  - eval: { metrics: [cosine], gate: { min_cosine: 0.9 } }\n"
                + "tuning: { on_gate_failure: tune, strategy: search, max_attempts: 6 }\n");
        RunReport.Tuning tuning = result.report().tuning();

        // search does not stop at the first pass: the grid's first six points, nearest the recipe first
        assertThat(tuning.stoppedBy()).isEqualTo(RunReport.Tuning.ALL_TRIED);
        assertThat(tuning.candidates()).extracting(RunReport.Candidate::changes).containsExactly(List.of(),
                List.of("01-prune: ratio 0.9 -> 0.675"),
                List.of("02-quantize: keep_float 0 -> 1 (the most sensitive node stays in float)"),
                List.of("01-prune: ratio 0.9 -> 0.45"),
                List.of("01-prune: ratio 0.9 -> 0.675", "02-quantize: keep_float 0 -> 1 (the most sensitive node stays in float)"),
                List.of("02-quantize: keep_float 0 -> 2 (the 2 most sensitive nodes stay in float)"));
        // the recipe's pruning is done once for the three candidates that keep it
        assertThat(tuning.candidates().get(2).reusedStages()).isEqualTo(1);
        assertThat(tuning.candidates().get(5).reusedStages()).isEqualTo(1);
        assertThat(tuning.candidates().get(4).reusedStages()).isEqualTo(1); // ratio 0.675 was pruned for candidate 2
        RunReport.Candidate chosen = tuning.chosenCandidate();
        assertThat(chosen.gate()).isEqualTo(RunReport.PASSED);
        assertThat(chosen.number()).isEqualTo(4); // ratio 0.45: the only one to pass in these six
        assertThat(tuning.candidates()).filteredOn(c -> c.gate().equals(RunReport.PASSED))
                .allMatch(c -> c.output().bytes() >= chosen.output().bytes());
        assertThat(tuning.candidates()).anyMatch(RunReport.Candidate::pareto);
        assertThat(chosen.pareto()).isTrue();
    }

    @Test
    void candidatesComeFromTheRecipeAlone() {
        Recipe plan = Recipes.withFinalEvaluation(RecipeParser.parse("stages:\n  - quantize: { mode: static, calibration: minmax }\n"
                + "tuning: { on_gate_failure: backoff, max_attempts: 50 }\n", "t.yaml"));
        // "backoff", the older spelling, is tune with strategy backoff
        assertThat(plan.tuning().onGateFailure()).isEqualTo("tune");
        assertThat(plan.tuning().strategy()).isEqualTo("backoff");
        List<Candidates.Candidate> candidates = Candidates.of(plan, Stages.registry());
        assertThat(candidates).extracting(c -> String.join("; ", c.changes())).containsExactly("",
                "01-quantize: calibration minmax -> percentile 99.999", "01-quantize: calibration minmax -> entropy",
                "01-quantize: calibration minmax -> mse");
        assertThat(candidates.get(1).stages().get(0).params()).containsEntry("calibration", "percentile").containsEntry("percentile", 99.999);
        assertThat(candidates.get(1).firstDifference(candidates.get(0))).isZero();
        assertThat(Candidates.of(plan, Stages.registry())).isEqualTo(candidates);

        Recipe failing = RecipeParser.parse("stages:\n  - quantize: { mode: dynamic }\n", "t.yaml");
        assertThat(Candidates.of(Recipes.withFinalEvaluation(failing), Stages.registry())).hasSize(1);
    }

    @Test
    void aStrategyNoStageOffersIsARecipeError() {
        assertThatThrownBy(() -> RecipeParser.parse("stages:\n  - prune: { method: magnitude, ratio: 0.5 }\n"
                + "tuning: { on_gate_failure: tune, strategy: fallback }\n", "fallback.yaml"))
                .isInstanceOf(ModelPressException.class)
                .satisfies(e -> assertThat(((ModelPressException) e).code()).isEqualTo(ErrorCode.BAD_RECIPE))
                .hasMessageContaining("tuning.strategy").hasMessageContaining("fall back nodes");
    }

    private static String sha(Path file) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static final Compressor.Listener QUIET = new Compressor.Listener() {
        public void stageStarted(StageSpec stage, int count) {
        }

        public void progress(StageSpec stage, double fraction, String message) {
        }

        public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
        }
    };
}
