package io.modelpress.train.prune;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.ValueShapes;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.prune.PruneReport;
import io.modelpress.core.prune.StructuredOptions;
import io.modelpress.core.prune.StructuredPruner;
import io.modelpress.core.prune.graph.ChannelAnalysis;
import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.importance.Criteria;
import io.modelpress.core.prune.importance.ImportanceProvider;
import io.modelpress.core.prune.ops.OpHandlers;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaylorCriterionTest {
    private static final long[] SAMPLE = {1, 28, 28};

    @TempDir
    Path dir;

    /**
     * conv1's filter 0 made ten times larger, and conv2 made to read nothing from it: removing it changes nothing, so
     * its first-order Taylor score is zero, while weight magnitude ranks it first.
     */
    static OnnxModel modelWithAStrongButUnreadFilter() {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(8, 8, 16, false, 7));
        edit(model, "conv1.weight", (dims, e) -> e / (dims[1] * dims[2] * dims[3]) == 0 ? 10f : 1f);
        edit(model, "conv2.weight", (dims, e) -> (e / (dims[2] * dims[3])) % dims[1] == 0 ? 0f : 1f);
        return model;
    }

    private interface Factor {
        float at(long[] dims, int element);
    }

    private static void edit(OnnxModel model, String name, Factor factor) {
        TensorProto t = Weights.find(model, name).orElseThrow();
        long[] dims = Tensors.dims(t);
        float[] values = model.floats(t);
        for (int e = 0; e < values.length; e++) {
            values[e] *= factor.at(dims, e);
        }
        Weights.replace(model, name, Tensors.ofFloats(name, dims, values));
    }

    @Test
    void aFilterNothingReadsScoresZeroWhereMagnitudeRanksItFirst() {
        OnnxModel model = modelWithAStrongButUnreadFilter();
        ChannelGraph graph = ChannelAnalysis.analyze(model, ValueShapes.infer(model).shapes(), OpHandlers.standard(), NodeSelector.ALL);
        ChannelGraph.Slice filters = graph.slices().stream().filter(s -> s.tensor().equals("conv1.weight") && s.axis() == 0).findFirst().orElseThrow();
        int filterZero = graph.classOf(filters.ids()[0]);
        ChannelGraph.Group group = graph.groups().stream().filter(g -> g.classes().contains(filterZero)).findFirst().orElseThrow();
        int k = group.classes().indexOf(filterZero);
        ImportanceProvider.Context context = new ImportanceProvider.Context(model, graph, TestCnns.randomData("input", SAMPLE, 3), 48, 1);

        double[] taylor = Criteria.get("taylor").create(context).score(group);
        double[] l1 = Criteria.get("l1").create(context).score(group);

        assertThat(Criteria.get("taylor").needsData()).isTrue();
        assertThat(taylor).hasSize(8);
        assertThat(taylor[k]).as("Taylor score of the unread filter in %s", Arrays.toString(taylor)).isZero();
        for (int i = 0; i < taylor.length; i++) {
            if (i != k) {
                assertThat(taylor[i]).as("filter %d in %s", i, Arrays.toString(taylor)).isPositive();
            }
        }
        assertThat(Arrays.stream(l1).max().orElseThrow()).as("l1 scores %s", Arrays.toString(l1)).isEqualTo(l1[k]);
    }

    @Test
    void structuredPruningByTaylorRemovesTheUnreadFilterAndTheModelRuns() {
        OnnxModel model = modelWithAStrongButUnreadFilter();
        CalibrationData data = TestCnns.randomData("input", SAMPLE, 3);

        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withCriterion("taylor").withRoundTo(1).withSamples(48), data);

        assertThat(report.notes()).containsEntry("criterion", "taylor");
        assertThat(report.changed()).isTrue();
        TensorProto conv1 = Weights.find(model, "conv1.weight").orElseThrow();
        assertThat(Tensors.dims(conv1)[0]).isEqualTo(4);
        float largest = 0;
        for (float v : model.floats(conv1)) {
            largest = Math.max(largest, Math.abs(v));
        }
        // He-scaled 3x3x1 filters stay well below 3; the unread filter was scaled to 10x that
        assertThat(largest).as("the ten-fold filter is gone").isLessThan(3f);
        Path file = dir.resolve("taylor.onnx");
        model.write(file);
        OnnxChecker.assertValid(file);
        float[] x = TestCnns.randomInputs(5, 2 * 28 * 28);
        assertThat(Ort.runFirstOutput(file, Map.of("input", new Ort.Floats(x, 2, 1, 28, 28)))).hasSize(20);
    }

    @Test
    void withoutDataTaylorIsRefusedWithAClearMessage() {
        OnnxModel model = modelWithAStrongButUnreadFilter();
        assertThatThrownBy(() -> StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withCriterion("taylor"), CalibrationData.NONE))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH))
                .hasMessageContaining("criterion taylor").hasMessageContaining("needs sample data");
    }
}
