package io.modelpress.core.prune;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.ValueShapes;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.prune.StructuredOptions.Scope;
import io.modelpress.core.prune.graph.ChannelAnalysis;
import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.ops.OpHandlers;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.PruningModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Structured pruning of hand-built CNNs, judged by ONNX Runtime and the onnx checker. */
class StructuredPrunerTest {
    private static final long[] SHAPE = {2, 3, 16, 16};

    @TempDir
    Path dir;

    @Test
    void residualConcatDepthwiseCnnLosesHalfItsChannelsAndStillRuns() {
        ModelProto original = PruningModels.residualCnn(1, false);
        OnnxModel model = OnnxModel.of(original);
        // these test models are 16 channels wide: half of them is a multiple of 8, not of the default 16
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withRoundTo(8), CalibrationData.NONE);
        Path before = write(OnnxModel.of(original), "before.onnx");
        Path after = write(model, "after.onnx");

        assertThat(report.changed()).isTrue();
        assertThat(report.after().parameters()).isLessThan(report.before().parameters() / 2);
        assertThat(report.after().macs()).isLessThan(report.before().macs() / 2);
        assertThat(report.after().bytes()).isLessThan(report.before().bytes() / 2);
        // the residual Add ties stem and block.conv2 together; the Concat and squeeze-excite tie branch a and se.expand in
        PruneReport.Group coupled = group(report, "stem.conv");
        assertThat(coupled.sources()).contains("block.conv2", "branch_a.conv", "se.expand");
        assertThat(coupled.removed()).isEqualTo(coupled.width() / 2);
        assertThat(cut(report, "branch_b.dw", "branch_b.dw.weight", 0).after()).as("depthwise filters follow their input").isEqualTo(8);
        assertThat(cut(report, "fc1", "fc1.weight", 1).after()).isEqualTo(16);
        assertThat(group(report, "logits").reason()).contains("graph output 'logits'");

        float[] x = input(SHAPE, 7);
        float[] y0 = Ort.runFirstOutput(before, Map.of("x", new Ort.Floats(x, SHAPE)));
        float[] y1 = Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(x, SHAPE)));
        assertThat(y1).hasSameSizeAs(y0);
        assertThat(model.inputs()).isEqualTo(OnnxModel.of(original).inputs());
        assertThat(model.outputs()).isEqualTo(OnnxModel.of(original).outputs());
        OnnxChecker.assertValid(after);
    }

    @Test
    void ratioZeroLeavesTheModelAsItWas() {
        ModelProto original = PruningModels.residualCnn(2, false);
        OnnxModel model = OnnxModel.of(original);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0), CalibrationData.NONE);

        assertThat(report.changed()).isFalse();
        assertThat(report.groups()).allSatisfy(g -> assertThat(g.removed()).isZero());
        assertThat(model.build().toByteArray()).isEqualTo(original.toByteArray());
        float[] x = input(SHAPE, 3);
        assertThat(Ort.runFirstOutput(write(model, "same.onnx"), Map.of("x", new Ort.Floats(x, SHAPE))))
                .containsExactly(Ort.runFirstOutput(write(OnnxModel.of(original), "orig.onnx"), Map.of("x", new Ort.Floats(x, SHAPE))));
    }

    /**
     * The exactness of the cut: every constant slice of half the channels of every group (filters, the next layers'
     * weights, biases, batch-norm parameters, depthwise filters, squeeze-excite weights) is set to zero first. Those
     * channels then contribute nothing and score lowest, so pruning must remove exactly them - and the physically
     * smaller model must compute what the zeroed original computes. A slice cut at the wrong offset (a Concat, a
     * Flatten, a depthwise group) would drop a live channel and change the outputs.
     */
    @Test
    void prunedModelComputesWhatTheOriginalWithThoseChannelsZeroedComputes() {
        assertPrunedEqualsZeroed(PruningModels.residualCnn(3, false));
    }

    /** The same for a Split without sizes (sizes are written), a gated unit coupling the halves, a Slice and a Concat. */
    @Test
    void splitSliceAndConcatOffsetsFollowTheCut() {
        PruneReport report = assertPrunedEqualsZeroed(PruningModels.gatedSlices(4));
        assertThat(group(report, "wide").width()).as("the halves are coupled pairwise").isEqualTo(16);
        // the Concat holds conv 'narrow''s 8 survivors and those of its first 8 channels the Slice still takes
        assertThat(cut(report, "logits", "logits.weight", 1).after()).isBetween(8L, 16L);
        assertThat(cut(report, "wide", "wide.weight", 0).after()).isEqualTo(16);
    }

    /**
     * Attention heads and FFN neurons of an encoder with constant Reshape shapes ([0, 0, 4, 8], [0, 0, 4, -1],
     * [0, 0, 32]) and LayerNormalization: half of each zeroed, then removed exactly; the shapes are rewritten.
     */
    @Test
    void encoderHeadsAndNeuronsWithConstantReshapeShapes() {
        OnnxModel zeroed = OnnxModel.of(PruningModels.encoder(5));
        zeroHalfOfEveryGroup(zeroed);
        Path reference = write(zeroed, "encoder-zeroed.onnx");
        OnnxModel model = OnnxModel.read(reference);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0).withHeads(0.5).withFfn(0.5).withRoundTo(1),
                CalibrationData.NONE);
        Path pruned = write(model, "encoder-pruned.onnx");

        assertThat(report.groups().stream().filter(g -> g.kind().equals("heads"))).hasSize(2).allSatisfy(g -> {
            assertThat(g.width()).isEqualTo(4);
            assertThat(g.unit()).isEqualTo(8);
            assertThat(g.removed()).isEqualTo(2);
        });
        assertThat(report.groups().stream().filter(g -> g.kind().equals("neurons") && g.pruned()).map(PruneReport.Group::removed)).containsExactly(32, 32);
        // the hidden width meets the model's input at the first residual Add (and LayerNormalization after each)
        assertThat(group(report, "layer0.o").reason()).contains("Add 'layer0.attention.residual' combines the channels with 'x', which cannot shrink");
        List<String> shapes = model.graph().getNodeList().stream().filter(n -> n.getOpType().equals("Reshape"))
                .map(n -> java.util.Arrays.toString(model.longs(model.constant(n.getInput(1)).orElseThrow()))).toList();
        assertThat(shapes).containsOnly("[0, 0, 2, 8]", "[0, 0, 2, -1]", "[0, 0, 16]");
        float[] x = input(new long[] {2, 5, 32}, 3);
        float[] expected = Ort.runFirstOutput(reference, Map.of("x", new Ort.Floats(x, 2, 5, 32)));
        float[] actual = Ort.runFirstOutput(pruned, Map.of("x", new Ort.Floats(x, 2, 5, 32)));
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("y[%d]", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-4 + 1e-4 * Math.abs(expected[i])));
        }
        OnnxChecker.assertValid(pruned);
    }

    private PruneReport assertPrunedEqualsZeroed(ModelProto original) {
        OnnxModel zeroed = OnnxModel.of(original);
        int chosen = zeroHalfOfEveryGroup(zeroed);
        Path reference = write(zeroed, "zeroed.onnx");

        OnnxModel model = OnnxModel.read(reference);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withRoundTo(1), CalibrationData.NONE);
        Path pruned = write(model, "pruned.onnx");

        assertThat(report.groups().stream().mapToInt(PruneReport.Group::removed).sum()).isEqualTo(chosen);
        assertThat(report.after().parameters()).isLessThan(report.before().parameters() * 6 / 10);
        float[] x = input(SHAPE, 11);
        float[] expected = Ort.runFirstOutput(reference, Map.of("x", new Ort.Floats(x, SHAPE)));
        float[] actual = Ort.runFirstOutput(pruned, Map.of("x", new Ort.Floats(x, SHAPE)));
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("logit %d", i).isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-5 + 1e-5 * Math.abs(expected[i])));
        }
        OnnxChecker.assertValid(pruned);
        return report;
    }

    /**
     * Zeroes every constant slice of a random half of the classes of each prunable group (random, so that a wrong
     * offset cannot hit a symmetric choice); returns how many classes that is.
     */
    static int zeroHalfOfEveryGroup(OnnxModel model) {
        ChannelGraph graph = ChannelAnalysis.analyze(model, ValueShapes.infer(model).shapes(), OpHandlers.standard(), NodeSelector.ALL);
        Set<Integer> chosen = new HashSet<>();
        Random random = new Random(42);
        for (ChannelGraph.Group g : graph.groups()) {
            if (!g.frozen() && g.width() > 1) {
                List<Integer> classes = new ArrayList<>(g.classes());
                java.util.Collections.shuffle(classes, random);
                chosen.addAll(classes.subList(0, g.width() / 2));
            }
        }
        for (ChannelGraph.Slice slice : graph.slices()) {
            if (java.util.Arrays.stream(slice.ids()).noneMatch(id -> id != Labels.NONE && chosen.contains(graph.classOf(id)))) {
                continue;
            }
            TensorProto t = Weights.find(model, slice.tensor()).orElseThrow();
            long[] dims = Tensors.dims(t);
            float[] values = model.floats(t);
            long inner = 1;
            for (int i = slice.axis() + 1; i < dims.length; i++) {
                inner *= dims[i];
            }
            int n = (int) dims[slice.axis()];
            for (int e = 0; e < values.length; e++) {
                int id = slice.ids()[(int) ((e / inner) % n)];
                if (id != Labels.NONE && chosen.contains(graph.classOf(id))) {
                    values[e] = 0;
                }
            }
            Weights.replace(model, slice.tensor(), Tensors.ofFloats(slice.tensor(), dims, values));
        }
        return chosen.size();
    }

    @Test
    void anOperatorItDoesNotUnderstandFreezesOnlyTheGroupsItTouches() {
        ModelProto original = PruningModels.residualCnn(4, true);
        OnnxModel model = OnnxModel.of(original);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withRoundTo(8), CalibrationData.NONE);

        PruneReport.Group frozen = group(report, "branch_a.conv");
        assertThat(frozen.removed()).isZero();
        assertThat(frozen.reason()).startsWith("frozen: ").contains("Einsum 'branch_a.einsum'").contains("does not understand");
        assertThat(report.frozenGroups()).contains(frozen);
        assertThat(group(report, "block.conv1").removed()).isEqualTo(8);
        assertThat(group(report, "fc1").removed()).isPositive();
        assertThat(report.toJson().toString()).contains("Einsum 'branch_a.einsum'");
        Path after = write(model, "after.onnx");
        float[] x = input(SHAPE, 5);
        assertThat(Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(x, SHAPE)))).hasSize(20);
        OnnxChecker.assertValid(after);
    }

    @Test
    void whatCannotBeProvenIsLeftWholeWithTheReason() {
        OnnxModel model = OnnxModel.of(PruningModels.unprovable(1));
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withRoundTo(8), CalibrationData.NONE);

        assertThat(group(report, "a").reason()).contains("Reshape 'shuffle.merge' moves the pruned axis in a way that cannot be proven");
        assertThat(group(report, "c").reason()).contains("Conv 'b' is a grouped convolution (group 2)");
        assertThat(group(report, "fc1").reason()).contains("LayerNormalization 'fc1.norm' normalizes over the pruned axis");
        assertThat(group(report, "e").removed()).as("the conv after the grouped one is free").isEqualTo(8);
        assertThat(report.frozenGroups()).hasSize(4);
        Path after = write(model, "unprovable.onnx");
        assertThat(Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(input(new long[] {2, 16, 8, 8}, 1), 2, 16, 8, 8)))).hasSize(20);
        OnnxChecker.assertValid(after);
    }

    @Test
    void fashionCnnWithWeightsInConstantNodesHalvesItsMacs() {
        ModelProto original = TestCnns.fashionLike(32, 64, 128, true, 5);
        OnnxModel model = OnnxModel.of(original);
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5), CalibrationData.NONE);

        // conv2's 64 channels x 7 x 7 positions feed fc1 through Flatten: 3136 columns become 32 x 49
        assertThat(cut(report, "fc1", "fc1.weight", 1).after()).isEqualTo(32 * 49);
        assertThat(report.after().macs()).isLessThanOrEqualTo(report.before().macs() / 2);
        assertThat(report.after().bytes()).isLessThanOrEqualTo((long) (report.before().bytes() * 0.55));
        assertThat(model.graph().getInitializerCount()).as("weights stay in Constant nodes").isZero();
        Path after = write(model, "fashion.onnx");
        float[] x = input(new long[] {2, 1, 28, 28}, 1);
        assertThat(Ort.runFirstOutput(after, Map.of("input", new Ort.Floats(x, 2, 1, 28, 28)))).hasSize(20);
        OnnxChecker.assertValid(after);
    }

    @Test
    void everyCriterionAndScopeGivesARunnableModel() {
        CalibrationData data = TestCnns.randomData("x", new long[] {3, 16, 16}, 9);
        List<Path> results = new ArrayList<>();
        for (String criterion : List.of("l1", "l2", "bn_scale", "activation")) {
            for (Scope scope : Scope.values()) {
                OnnxModel model = OnnxModel.of(PruningModels.residualCnn(6, false));
                PruneReport report = StructuredPruner.prune(model,
                        StructuredOptions.ratio(0.4).withCriterion(criterion).withScope(scope).withSamples(32), data);
                assertThat(report.changed()).as("%s %s", criterion, scope).isTrue();
                assertThat(report.after().parameters()).as("%s %s", criterion, scope).isLessThan(report.before().parameters());
                assertThat(report.notes()).containsEntry("criterion", criterion).containsEntry("scope", scope.label());
                Path file = write(model, criterion + "-" + scope.label() + ".onnx");
                assertThat(Ort.runFirstOutput(file, Map.of("x", new Ort.Floats(input(SHAPE, 2), SHAPE)))).hasSize(20);
                results.add(file);
            }
        }
        OnnxChecker.assertValid(results.toArray(Path[]::new));
    }

    @Test
    void globalScopeTakesMoreFromLessImportantGroups() {
        OnnxModel model = OnnxModel.of(PruningModels.residualCnn(8, false));
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withScope(Scope.GLOBAL).withRoundTo(1),
                CalibrationData.NONE);
        int removed = 0;
        int width = 0;
        for (PruneReport.Group g : report.groups()) {
            if (g.reason() == null || !g.reason().startsWith("frozen")) {
                removed += g.removed();
                width += g.width();
            }
        }
        assertThat((double) removed / width).isCloseTo(0.5, org.assertj.core.data.Offset.offset(0.05));
        assertThat(report.groups().stream().filter(PruneReport.Group::pruned).mapToDouble(g -> (double) g.removed() / g.width()).distinct().count())
                .as("groups lose different fractions").isGreaterThan(1);
    }

    @Test
    void excludedLayersKeepTheirChannels() {
        OnnxModel model = OnnxModel.of(PruningModels.residualCnn(9, false));
        NodeSelector selector = new NodeSelector(List.of(), List.of(), List.of(), List.of("block.conv1"), List.of(), List.of());
        PruneReport report = StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withSelector(selector), CalibrationData.NONE);

        PruneReport.Group kept = group(report, "block.conv1");
        assertThat(kept.removed()).isZero();
        assertThat(kept.reason()).contains("Conv 'block.conv1' is excluded by the recipe");
        assertThat(report.cuts()).noneMatch(c -> c.tensor().startsWith("block.conv1.") && c.axis() == 0);
        assertThat(report.changed()).isTrue();
    }

    @Test
    void badOptionsAreRefusedWithAClearMessage() {
        assertThatThrownBy(() -> StructuredOptions.ratio(1.0)).isInstanceOf(ModelPressException.class)
                .hasMessageContaining("ratio").hasMessageContaining("[0, 1)");
        assertThatThrownBy(() -> StructuredOptions.ratio(0.5).withRoundTo(0)).hasMessageContaining("round_to");
        assertThatThrownBy(() -> StructuredOptions.ratio(0.5).withCriterion("l3")).isInstanceOf(ModelPressException.class)
                .hasMessageContaining("l1, l2, bn_scale, activation, taylor").hasMessageContaining("'l3'");
        // taylor needs gradients, which only the train module (not on core's class path) computes
        assertThatThrownBy(() -> StructuredOptions.ratio(0.5).withCriterion("taylor")).isInstanceOf(ModelPressException.class)
                .hasMessageContaining("criterion taylor").hasMessageContaining("the train module").hasMessageContaining("prune-worker");
        OnnxModel model = OnnxModel.of(PruningModels.residualCnn(1, false));
        assertThatThrownBy(() -> StructuredPruner.prune(model, StructuredOptions.ratio(0.5).withCriterion("activation"), CalibrationData.NONE))
                .isInstanceOfSatisfying(ModelPressException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH))
                .hasMessageContaining("needs sample data");
    }

    static PruneReport.Group group(PruneReport report, String source) {
        return report.groups().stream().filter(g -> g.sources().contains(source)).findFirst()
                .orElseThrow(() -> new AssertionError("no group with source " + source + " in " + report.groups()));
    }

    static PruneReport.Cut cut(PruneReport report, String node, String tensor, int axis) {
        return report.cuts().stream().filter(c -> c.node().equals(node) && c.tensor().equals(tensor) && c.axis() == axis).findFirst()
                .orElseThrow(() -> new AssertionError("no cut of " + tensor + " axis " + axis + " in " + report.cuts()));
    }

    Path write(OnnxModel model, String name) {
        Path file = dir.resolve(name);
        model.write(file);
        assertThat(Files.isRegularFile(file)).isTrue();
        return file;
    }

    static float[] input(long[] shape, long seed) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }
}
