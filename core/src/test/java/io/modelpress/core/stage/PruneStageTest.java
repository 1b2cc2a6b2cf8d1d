package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.prune.sparse.SparsityRecord;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.PrunableModels;
import io.modelpress.core.testing.PruningModels;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The {@code prune} and {@code lowrank} recipe stages: their keys through the recipe parser, and each method run as a
 * stage on real models, the results judged in ONNX Runtime.
 */
class PruneStageTest {
    private static final long[] CNN_INPUT = {1, 3, 16, 16};

    @TempDir
    Path dir;

    private static StageSpec stage(String yaml) {
        return RecipeParser.parse("stages:\n  - " + yaml + "\n", "recipe.yaml").stages().get(0);
    }

    private static String problems(String yaml) {
        try {
            RecipeParser.parse("stages:\n  - " + yaml + "\n", "recipe.yaml");
        } catch (ModelPressException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted: " + yaml);
    }

    private Path write(String name, ai.onnx.proto.OnnxMl.ModelProto proto) {
        Path file = dir.resolve(name);
        OnnxModel.of(proto).write(file);
        return file;
    }

    private StageOutcome run(StageSpec spec, Path model, List<Path> data) throws Exception {
        Path work = Files.createDirectories(dir.resolve("work-" + spec.type() + "-" + System.nanoTime()));
        return Stages.forType(spec.type()).run(new StageContext(spec, model, model, data, null, work, 1, null));
    }

    @Test
    void keysTakeTheirDefaultsPerMethod() {
        StageSpec nm = stage("prune: { method: 'n:m' }");
        assertThat(nm.integer("n")).isEqualTo(2);
        assertThat(nm.integer("m")).isEqualTo(4);
        assertThat(nm.params()).doesNotContainKeys("round_to", "criterion", "allocation");

        StageSpec structured = stage("prune: { method: structured, heads: 0.25, ffn: 0.3 }");
        assertThat(structured.integer("round_to")).isEqualTo(16);
        assertThat(structured.string("criterion")).isEqualTo("l1");
        assertThat(structured.string("scope")).isEqualTo("per-layer");
        assertThat(PruneStage.structuredOptions(structured).ratio()).isZero();
        assertThat(PruneStage.structuredOptions(structured).heads()).isEqualTo(0.25);

        StageSpec magnitude = stage("prune: { method: magnitude, ratio: 0.8, scope: global, allocation: lamp, exclude: { ops: [Gemm] } }");
        assertThat(magnitude.string("allocation")).isEqualTo("lamp");
        assertThat(magnitude.selector().excludeOps()).containsExactly("Gemm");

        assertThat(stage("prune: { method: block, ratio: 0.5, block: [4, 8] }").integers("block")).containsExactly(4L, 8L);
        assertThat(stage("prune: { method: layers, drop: [1, 4] }").integers("drop")).containsExactly(1L, 4L);
        assertThat(stage("prune: { method: layers, keep: 4 }").integer("keep")).isEqualTo(4);
        assertThat(stage("lowrank: { energy: 0.9, include: { ops: [MatMul] } }").number("energy")).isEqualTo(0.9);
    }

    @Test
    void badValuesAreRecipeErrorsNamingTheKey() {
        assertThat(problems("prune: { ratio: 0.3 }")).contains("stages[0].prune.method: is required: one of magnitude, n:m, block, structured, layers");
        assertThat(problems("prune: { method: random }")).contains("stages[0].prune.method: expected one of: magnitude, n:m, block, structured, layers, found 'random'");
        assertThat(problems("prune: { method: structured, ratio: 0.5, allocation: lamp }"))
                .contains("stages[0].prune.allocation: applies only to method: magnitude (this stage is method: structured)");
        assertThat(problems("prune: { method: magnitude }")).contains("stages[0].prune.ratio: is required for method: magnitude");
        assertThat(problems("prune: { method: magnitude, ratio: 1 }")).contains("stages[0].prune.ratio: must be below 1");
        assertThat(problems("prune: { method: magnitude, ratio: 1.5 }")).contains("stages[0].prune.ratio: expected a number from 0 to 1, found '1.5'");
        assertThat(problems("prune: { method: 'n:m', n: 4, m: 4 }")).contains("stages[0].prune.n: must be below m (4), found 4");
        assertThat(problems("prune: { method: block, ratio: 0.5 }")).contains("stages[0].prune.block: is required for method: block");
        assertThat(problems("prune: { method: block, ratio: 0.5, block: [4] }")).contains("stages[0].prune.block: expected two integers [rows, cols], found [4]");
        assertThat(problems("prune: { method: block, ratio: 0.5, block: [4, x] }")).contains("stages[0].prune.block[1]: expected a list of integers from 1 to 4096, found 'x'");
        assertThat(problems("prune: { method: structured }")).contains("stages[0].prune.ratio: is required for method: structured unless heads or ffn is given");
        assertThat(problems("prune: { method: structured, ratio: 0.5, criterion: random }"))
                .contains("stages[0].prune.criterion: expected one of: l1, l2, bn_scale, activation, taylor, found 'random'");
        assertThat(problems("prune: { method: structured, ratio: 0.5, round_to: 0 }")).contains("stages[0].prune.round_to: expected an integer from 1 to 4096, found '0'");
        assertThat(problems("prune: { method: structured, heads: 1.0 }")).contains("stages[0].prune.heads: must be below 1");
        assertThat(problems("prune: { method: layers }")).contains("stages[0].prune.drop: method: layers takes either drop: [indices] or keep: N");
        assertThat(problems("prune: { method: layers, drop: [1], keep: 2 }")).contains("stages[0].prune.keep: method: layers takes either drop: [indices] or keep: N, not both");
        assertThat(problems("prune: { method: layers, drop: [1, 1] }")).contains("stages[0].prune.drop: must list distinct block indices, found [1, 1]");
        assertThat(problems("prune: { method: layers, keep: 2, include: { ops: [Conv] } }")).contains("stages[0].prune.include: applies only to method: block, magnitude, n:m, structured");
        assertThat(problems("lowrank: {}")).contains("stages[0].lowrank.rank_ratio: is required (or energy)");
        assertThat(problems("lowrank: { rank_ratio: 0.5, energy: 0.9 }")).contains("stages[0].lowrank.energy: give either rank_ratio or energy, not both");
        assertThat(problems("lowrank: { rank_ratio: 0 }")).contains("stages[0].lowrank.rank_ratio: must be above 0");
        assertThat(problems("distill: {}")).contains("unknown stage type");
    }

    /** Every weight tensor of the pruned layers loses exactly round(ratio x size) values; the mask record travels along. */
    @Test
    void magnitudeHitsItsRatioExactlyAndRecordsTheMask() throws Exception {
        Path model = write("mlp.onnx", SmallModels.mlp(16, 32, 8, false, 3));
        StageOutcome outcome = run(stage("prune: { method: magnitude, ratio: 0.75 }"), model, List.of());

        OnnxModel pruned = OnnxModel.read(outcome.model());
        JsonNode layers = outcome.report().path("layers");
        assertThat(layers).hasSize(2);
        for (JsonNode layer : layers) {
            float[] w = pruned.floats(pruned.constant(layer.path("tensor").asText()).orElseThrow());
            long zeros = 0;
            for (float v : w) {
                zeros += v == 0f ? 1 : 0;
            }
            assertThat(zeros).isEqualTo(Math.round(0.75 * w.length)).isEqualTo(layer.path("zeros").asLong());
        }
        assertThat(SparsityRecord.read(pruned)).hasSize(2);
        assertThat(outcome.report().path("before").path("gzip_bytes").asLong())
                .isGreaterThan(outcome.report().path("after").path("gzip_bytes").asLong());
        assertThat(pruned.inputs()).extracting(ValueShape::name).containsExactly("x");
        float[] y = Ort.runFirstOutput(outcome.model(), Map.of("x", new Ort.Floats(SmallModels.random(new Random(1), 2 * 16, 1f), 2, 16)));
        assertThat(y).hasSize(16);
        for (float v : y) {
            assertThat(Float.isFinite(v)).isTrue();
        }
    }

    @Test
    void nOfMKeepsTwoOfEveryFourAlongTheReductionAxis() throws Exception {
        Path model = write("mlp.onnx", SmallModels.mlp(16, 32, 8, false, 4));
        StageOutcome outcome = run(stage("prune: { method: 'n:m' }"), model, List.of());

        OnnxModel pruned = OnnxModel.read(outcome.model());
        for (JsonNode layer : outcome.report().path("layers")) {
            float[] w = pruned.floats(pruned.constant(layer.path("tensor").asText()).orElseThrow());
            int rows = (int) layer.path("shape").get(0).asLong();
            int cols = (int) layer.path("shape").get(1).asLong();
            for (int c = 0; c < cols; c++) {
                for (int r0 = 0; r0 < rows; r0 += 4) {
                    int nonZero = 0;
                    for (int r = r0; r < r0 + 4; r++) {
                        nonZero += w[r * cols + c] != 0f ? 1 : 0;
                    }
                    assertThat(nonZero).isLessThanOrEqualTo(2);
                }
            }
            assertThat(layer.path("sparsity").asDouble()).isEqualTo(0.5);
        }
    }

    /** Filters removed through the dependency graph: fewer parameters and MACs, the interface kept, a valid model. */
    @Test
    void structuredRemovesChannelsAndReportsEveryGroup() throws Exception {
        Path model = write("cnn.onnx", PruningModels.residualCnn(5, true));
        StageOutcome outcome = run(stage("prune: { method: structured, ratio: 0.5, criterion: l2 }"), model, List.of());

        JsonNode report = outcome.report();
        assertThat(report.path("method").asText()).isEqualTo("structured");
        assertThat(report.path("after").path("parameters").asLong()).isLessThan(report.path("before").path("parameters").asLong());
        assertThat(report.path("after").path("macs").asLong()).isLessThan(report.path("before").path("macs").asLong());
        assertThat(report.path("after").path("gzip_bytes").asLong()).isLessThan(report.path("before").path("gzip_bytes").asLong());
        assertThat(report.path("cuts").size()).isPositive();
        // the Einsum freezes the group it touches, and the report says so
        assertThat(report.path("groups").findValuesAsText("reason")).anySatisfy(reason -> assertThat(reason).contains("Einsum"));
        OnnxModel pruned = OnnxModel.read(outcome.model());
        assertThat(pruned.outputs()).usingRecursiveFieldByFieldElementComparator()
                .isEqualTo(OnnxModel.read(model).outputs());
        assertThat(Ort.runFirstOutput(outcome.model(), Map.of("x", new Ort.Floats(SmallModels.random(new Random(2), 3 * 256, 1f), CNN_INPUT)))).hasSize(10);
        OnnxChecker.assertValid(outcome.model());
    }

    /** criterion: activation reads the run's calibration data, as static quantization does. */
    @Test
    void activationCriterionUsesTheRunsData() throws Exception {
        Path model = write("cnn.onnx", PruningModels.residualCnn(6, false));
        StageSpec spec = stage("prune: { method: structured, ratio: 0.5, criterion: activation, samples: 8 }");
        assertThatThrownBy(() -> run(spec, model, List.of())).isInstanceOf(ModelPressException.class).hasMessageContaining("needs sample data");

        Path data = dir.resolve("calib.npz");
        NpyWriter.writeNpz(data, Map.of("x", HostArray.of(SmallModels.random(new Random(3), 8 * 3 * 256, 1f), 8, 3, 16, 16)), false);
        StageOutcome outcome = run(spec, model, List.of(data));
        assertThat(outcome.report().path("notes").path("criterion").asText()).isEqualTo("activation");
        assertThat(outcome.report().path("changed").asBoolean()).isTrue();
        assertThat(Ort.runFirstOutput(outcome.model(), Map.of("x", new Ort.Floats(SmallModels.random(new Random(2), 3 * 256, 1f), CNN_INPUT)))).hasSize(10);
    }

    @Test
    void layersDropsTheNamedBlocks() throws Exception {
        Path model = write("stack.onnx", PruningModels.resnetStack(4, 1));
        StageOutcome outcome = run(stage("prune: { method: layers, drop: [1, 2] }"), model, List.of());

        assertThat(outcome.report().path("blocks").findValues("removed")).extracting(JsonNode::asBoolean).containsExactly(false, true, true, false);
        assertThat(outcome.report().path("after").path("parameters").asLong()).isLessThan(outcome.report().path("before").path("parameters").asLong());
        long[] shape = {2, 3, 16, 16};
        assertThat(Ort.runFirstOutput(outcome.model(), Map.of("x", new Ort.Floats(SmallModels.random(new Random(2), 2 * 3 * 256, 1f), shape)))).hasSize(20);
    }

    @Test
    void lowRankFactorizesWhereItLowersMacs() throws Exception {
        Path model = write("lowrank.onnx", PrunableModels.lowRankMatMul(64, 48, 4, 7));
        StageOutcome outcome = run(stage("lowrank: { rank_ratio: 0.25 }"), model, List.of());

        JsonNode report = outcome.report();
        assertThat(report.path("factorized_nodes").asInt()).isEqualTo(1);
        assertThat(report.path("nodes").get(0).path("rank").asInt()).isEqualTo(12);
        assertThat(report.path("after").path("macs").asLong()).isLessThan(report.path("before").path("macs").asLong());
        float[] x = SmallModels.random(new Random(9), 2 * 64, 1f);
        float[] expected = Ort.runFirstOutput(model, Map.of("x", new Ort.Floats(x, 2, 64)));
        float[] actual = Ort.runFirstOutput(outcome.model(), Map.of("x", new Ort.Floats(x, 2, 64)));
        for (int i = 0; i < expected.length; i++) {
            // the weight has rank 4, so rank 12 reproduces it
            assertThat(actual[i]).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-3f));
        }
    }

    /**
     * Block sparsity with the parameters as a pipeline worker receives them (through JSON: integer lists arrive as
     * Integers): round(ratio x blocks) whole blocks of each weight are zero.
     */
    @Test
    void blockSparsityFromParametersThatCameThroughJson() throws Exception {
        Path model = write("mlp.onnx", SmallModels.mlp(16, 32, 8, false, 5));
        StageSpec parsed = stage("prune: { method: block, ratio: 0.5, block: [4, 4] }");
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        @SuppressWarnings("unchecked")
        Map<String, Object> params = json.readValue(json.writeValueAsBytes(parsed.params()), Map.class);
        StageOutcome outcome = run(new StageSpec(0, "prune", params), model, List.of());

        OnnxModel pruned = OnnxModel.read(outcome.model());
        for (JsonNode layer : outcome.report().path("layers")) {
            float[] w = pruned.floats(pruned.constant(layer.path("tensor").asText()).orElseThrow());
            int rows = (int) layer.path("shape").get(0).asLong();
            int cols = (int) layer.path("shape").get(1).asLong();
            int zeroBlocks = 0;
            for (int r0 = 0; r0 < rows; r0 += 4) {
                for (int c0 = 0; c0 < cols; c0 += 4) {
                    boolean zero = true;
                    for (int r = r0; r < r0 + 4; r++) {
                        for (int c = c0; c < c0 + 4; c++) {
                            zero &= w[r * cols + c] == 0f;
                        }
                    }
                    zeroBlocks += zero ? 1 : 0;
                }
            }
            assertThat(zeroBlocks).as(layer.path("tensor").asText()).isEqualTo(Math.round(0.5 * (rows / 4) * (cols / 4)));
        }
        assertThat(SparsityRecord.read(pruned)).extracting(SparsityRecord.Entry::pattern).containsOnly("block");
    }
}
