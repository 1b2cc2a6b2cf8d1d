package io.modelpress.core.lowrank;

import ai.onnx.proto.OnnxMl.NodeProto;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.convert.Float16Converter;
import io.modelpress.core.eval.Similarity;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.PrunableModels;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class LowRankTest {
    @TempDir
    Path dir;

    record Run(float[] expected, float[] actual, Path file) {
        double maxRelativeError() {
            double scale = 0;
            double error = 0;
            for (int i = 0; i < expected.length; i++) {
                scale = Math.max(scale, Math.abs(expected[i]));
                error = Math.max(error, Math.abs(expected[i] - actual[i]));
            }
            return error / scale;
        }
    }

    /** Runs original and factorized on the same random x [batch, in]. */
    Run compare(OnnxModel original, OnnxModel factorized, int in) {
        Path before = dir.resolve("before-" + System.nanoTime() + ".onnx");
        Path after = dir.resolve("after-" + System.nanoTime() + ".onnx");
        original.write(before);
        factorized.write(after);
        float[] x = SmallModels.random(new Random(9), 7 * in, 1f);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(x, 7, in));
        return new Run(Ort.runFirstOutput(before, feeds), Ort.runFirstOutput(after, feeds), after);
    }

    static List<String> ops(OnnxModel model) {
        return model.graph().getNodeList().stream().map(NodeProto::getOpType).toList();
    }

    @ParameterizedTest(name = "weights in Constant nodes: {0}")
    @CsvSource({"false", "true"})
    void atFullRankTheTwoMatMulsComputeTheOriginal(boolean constantNodes) {
        OnnxModel original = OnnxModel.of(SmallModels.mlp(72, 40, 56, constantNodes, 5));
        OnnxModel model = original.copy();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(1.0).withOnlyWhereFewerMacs(false));

        assertThat(report.factorized()).extracting(LowRankReport.Factorized::rank).containsExactly(40, 40);
        assertThat(report.factorized()).allSatisfy(f -> assertThat(f.relativeError()).isLessThan(1e-6));
        assertThat(ops(model)).filteredOn("MatMul"::equals).hasSize(4);
        assertThat(model.constant("w1")).as("the original weight is gone").isEmpty();
        assertThat(model.inputs()).isEqualTo(original.inputs());
        assertThat(model.outputs()).isEqualTo(original.outputs());
        Run run = compare(original, model, 72);
        assertThat(run.maxRelativeError()).isLessThan(1e-5);
        OnnxChecker.assertValid(run.file());
    }

    @ParameterizedTest(name = "transB {0}, opset {1}")
    @CsvSource({"true, 17", "false, 17", "true, 9", "false, 9"})
    void gemmKeepsAlphaBetaAndBiasAtFullRank(boolean transB, long opset) {
        OnnxModel original = OnnxModel.of(PrunableModels.gemm(48, 30, transB, opset, 3));
        OnnxModel model = original.copy();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(1.0).withOnlyWhereFewerMacs(false));

        assertThat(report.factorized()).singleElement().satisfies(f -> {
            assertThat(f.k()).isEqualTo(48);
            assertThat(f.n()).isEqualTo(30);
            assertThat(f.rank()).isEqualTo(30);
        });
        assertThat(ops(model)).containsExactly("Gemm", "Gemm");
        Run run = compare(original, model, 48);
        assertThat(run.maxRelativeError()).isLessThan(1e-5);
        OnnxChecker.assertValid(run.file());
    }

    @Test
    void aLowRankWeightIsFoundByEnergyAndReproduced() {
        OnnxModel original = OnnxModel.of(PrunableModels.lowRankMatMul(96, 128, 6, 2));
        OnnxModel model = original.copy();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.energy(0.99999));

        assertThat(report.factorized()).singleElement().satisfies(f -> {
            assertThat(f.rank()).isEqualTo(6);
            assertThat(f.macsPerRowAfter()).isEqualTo(6 * (96 + 128));
        });
        assertThat(report.after().macs()).isEqualTo(6L * (96 + 128));
        assertThat(report.before().macs()).isEqualTo(96L * 128);
        assertThat(report.after().parameters()).isLessThan(report.before().parameters() / 8);
        Run run = compare(original, model, 96);
        assertThat(run.maxRelativeError()).isLessThan(1e-4);
        OnnxChecker.assertValid(run.file());
    }

    @Test
    void halfRankLowersMacsAndReportsTheLoss() {
        OnnxModel original = OnnxModel.of(SmallModels.mlp(128, 512, 96, false, 8));
        OnnxModel model = original.copy();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(0.5));

        // w1 128 x 512: rank 64 < 102.4 lowers MACs; w2 512 x 96: rank 48 < 80.8 too
        assertThat(report.factorized()).extracting(LowRankReport.Factorized::rank).containsExactly(64, 48);
        assertThat(report.after().macs()).isEqualTo(64L * (128 + 512) + 48L * (512 + 96));
        assertThat(report.before().macs()).isEqualTo(128L * 512 + 512L * 96);
        Run run = compare(original, model, 128);
        double cosine = Similarity.cosine(run.expected(), run.actual());
        // random Gaussian weights have no low-rank structure: half the rank keeps well under all of the output
        assertThat(cosine).isBetween(0.3, 0.99);
        assertThat(report.factorized()).allSatisfy(f -> {
            assertThat(f.retainedEnergy()).isBetween(0.5, 0.95);
            assertThat(f.relativeError()).isCloseTo(Math.sqrt(1 - f.retainedEnergy()), within(1e-12));
        });
        ObjectNode json = report.toJson();
        assertThat(json.get("rank_ratio").asDouble()).isEqualTo(0.5);
        assertThat(json.get("factorized_nodes").asInt()).isEqualTo(2);
        assertThat(json.get("nodes").get(0).get("macs_per_row_after").asLong()).isEqualTo(64L * 640);
        assertThat(json.get("after").get("bytes").asLong()).isLessThan(json.get("before").get("bytes").asLong());
        OnnxChecker.assertValid(run.file());
    }

    @Test
    void nodesWhereTheRankWouldNotLowerMacsAreLeftAlone() {
        OnnxModel original = OnnxModel.of(SmallModels.mlp(16, 16, 16, false, 1));
        OnnxModel model = original.copy();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(0.6));

        assertThat(report.factorized()).isEmpty();
        assertThat(report.skipped()).hasSize(2).allSatisfy(s ->
                assertThat(s.reason()).isEqualTo("rank 10 would not lower MACs (needs rank below K*N/(K+N) = 8.0)"));
        assertThat(model.build()).isEqualTo(original.build());

        LowRankReport byEnergy = LowRank.factorize(model, LowRankOptions.energy(0.99));
        assertThat(byEnergy.skipped()).allSatisfy(s -> assertThat(s.reason()).contains("energy 0.99 needs rank"));
        assertThat(model.build()).isEqualTo(original.build());
    }

    @Test
    void includeAndExcludeChooseTheNodes() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(128, 512, 96, false, 8));
        NodeSelector onlySecond = new NodeSelector(List.of("mm2"), List.of(), List.of(), List.of(), List.of(), List.of());
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(0.25).withSelector(onlySecond));

        assertThat(report.factorized()).extracting(LowRankReport.Factorized::node).containsExactly("mm2");
        assertThat(report.skipped()).singleElement().satisfies(s -> {
            assertThat(s.node()).isEqualTo("mm1");
            assertThat(s.reason()).isEqualTo("not in the recipe's include list");
        });
        assertThat(model.constant("w1")).isPresent();
    }

    @Test
    void tiedWeightsAreFactorizedOnce() {
        OnnxModel original = OnnxModel.of(PrunableModels.tied(4));
        OnnxModel model = original.copy();
        NodeSelector tied = new NodeSelector(List.of("mm_a", "mm_b"), List.of(), List.of(), List.of(), List.of(), List.of());
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(1.0).withOnlyWhereFewerMacs(false).withSelector(tied));

        assertThat(report.factorized()).hasSize(2);
        assertThat(model.graph().getInitializerList()).extracting(t -> t.getName())
                .containsExactlyInAnyOrder("shared", "tied_lowrank_16_a", "tied_lowrank_16_b");
        Run run = compare(original, model, 16);
        assertThat(run.maxRelativeError()).isLessThan(1e-5);
    }

    @Test
    void badOptionsAreRejectedWithAClearMessage() {
        assertThatThrownBy(() -> new LowRankOptions(OptionalDouble.of(0.5), OptionalDouble.of(0.9), NodeSelector.ALL, true))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
                    assertThat(e.getMessage()).isEqualTo("low-rank options: give exactly one of rank_ratio and energy");
                });
        assertThatThrownBy(() -> LowRankOptions.rankRatio(0)).hasMessageContaining("rank_ratio must be above 0 and at most 1");
        assertThatThrownBy(() -> LowRankOptions.energy(1.5)).hasMessageContaining("energy must be above 0 and at most 1");
        assertThatThrownBy(() -> LowRankOptions.from(new StageSpec(1, "lowrank", Map.of())))
                .isInstanceOfSatisfying(ModelPressException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
                    assertThat(e.getMessage()).isEqualTo("02-lowrank: give exactly one of rank_ratio and energy");
                });
        LowRankOptions fromRecipe = LowRankOptions.from(new StageSpec(0, "lowrank", Map.of("energy", 0.95,
                "include", Map.of("patterns", List.of(".*intermediate.*")))));
        assertThat(fromRecipe.energy()).hasValue(0.95);
        assertThat(fromRecipe.onlyWhereFewerMacs()).isTrue();
        assertThat(fromRecipe.selector().includePatterns()).hasSize(1);
    }

    @Test
    void float16WeightsGetFloat16Factors() {
        OnnxModel original = OnnxModel.of(SmallModels.mlp(64, 48, 32, false, 6));
        Float16Converter.convert(original, Float16Converter.Options.DEFAULT);
        OnnxModel model = original.copy();
        LowRankReport report = LowRank.factorize(model, LowRankOptions.rankRatio(1.0).withOnlyWhereFewerMacs(false));

        assertThat(report.factorized()).hasSize(2);
        assertThat(model.graph().getInitializerList()).filteredOn(t -> t.getName().contains("_lowrank_"))
                .hasSize(4).allSatisfy(t -> assertThat(DataType.of(t)).isEqualTo(DataType.FLOAT16));
        Run run = compare(original, model, 64);
        assertThat(run.maxRelativeError()).as("float16 rounding of the factors").isLessThan(0.01);
        OnnxChecker.assertValid(run.file());
    }
}
