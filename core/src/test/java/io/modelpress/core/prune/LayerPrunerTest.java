package io.modelpress.core.prune;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.PruningModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Depth pruning of a residual stack: blocks found from the graph, the chosen ones removed, the rest reconnected. */
class LayerPrunerTest {
    private static final long[] SHAPE = {2, 3, 16, 16};

    @TempDir
    Path dir;

    @Test
    void residualBlocksAreFoundAndTheChosenOnesDropped() {
        OnnxModel model = OnnxModel.of(PruningModels.resnetStack(4, 1));
        PruneReport report = LayerPruner.prune(model, LayerOptions.drop(List.of(1, 2)));

        assertThat(report.blocks()).hasSize(4);
        assertThat(report.blocks()).extracting(PruneReport.Block::removed).containsExactly(false, true, true, false);
        assertThat(report.blocks().get(0).input()).isEqualTo("stem.relu");
        assertThat(report.blocks()).extracting(PruneReport.Block::output).containsExactly("block0.relu2", "block1.relu2", "block2.relu2", "block3.relu2");
        assertThat(model.graph().getNodeList()).noneMatch(n -> n.getName().startsWith("block1.") || n.getName().startsWith("block2."));
        assertThat(report.after().parameters()).isLessThan(report.before().parameters());
        Path after = dir.resolve("dropped.onnx");
        model.write(after);
        assertThat(Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(StructuredPrunerTest.input(SHAPE, 1), SHAPE)))).hasSize(20);
        OnnxChecker.assertValid(after);
    }

    /** A dropped block's residual branch contributes nothing when its last BN scale and shift are zero: exact check. */
    @Test
    void droppingABlockWhoseBranchIsZeroChangesNothing() {
        OnnxModel zeroed = OnnxModel.of(PruningModels.resnetStack(3, 2));
        for (String p : List.of("block1.bn2.gamma", "block1.bn2.beta")) {
            var t = zeroed.constant(p).orElseThrow();
            io.modelpress.core.onnx.Weights.replace(zeroed, p, io.modelpress.core.onnx.Tensors.ofFloats(p, new long[] {16}, new float[16]));
        }
        Path reference = dir.resolve("zeroed.onnx");
        zeroed.write(reference);
        OnnxModel model = OnnxModel.read(reference);
        LayerPruner.prune(model, LayerOptions.drop(List.of(1)));
        Path after = dir.resolve("after.onnx");
        model.write(after);
        float[] x = StructuredPrunerTest.input(SHAPE, 4);
        float[] expected = Ort.runFirstOutput(reference, Map.of("x", new Ort.Floats(x, SHAPE)));
        float[] actual = Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(x, SHAPE)));
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void keepSpreadsTheSurvivorsAndBadRequestsAreRefused() {
        OnnxModel model = OnnxModel.of(PruningModels.resnetStack(5, 3));
        PruneReport report = LayerPruner.prune(model, LayerOptions.keep(3));
        assertThat(report.blocks()).extracting(PruneReport.Block::removed).containsExactly(false, true, false, true, false);

        assertThatThrownBy(() -> LayerPruner.prune(OnnxModel.of(PruningModels.resnetStack(3, 3)), LayerOptions.drop(List.of(3))))
                .isInstanceOf(ModelPressException.class).hasMessageContaining("block 3 does not exist").hasMessageContaining("3 repeated blocks");
        assertThatThrownBy(() -> LayerPruner.prune(OnnxModel.of(PruningModels.resnetStack(2, 3)), LayerOptions.keep(3)))
                .hasMessageContaining("only 2");
        assertThatThrownBy(() -> LayerPruner.prune(OnnxModel.of(PruningModels.residualCnn(1, false)), LayerOptions.keep(1)))
                .hasMessageContaining("no repeated blocks");
        assertThatThrownBy(() -> new LayerOptions(List.of(1), 2, 8)).hasMessageContaining("either drop");
    }
}
