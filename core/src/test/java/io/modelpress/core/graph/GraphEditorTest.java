package io.modelpress.core.graph;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class GraphEditorTest {
    @TempDir
    Path dir;

    @Test
    void freshNamesAreNewModelWideIncludingSubgraphs() {
        GraphEditor editor = new GraphEditor(OnnxModel.of(SmallModels.withIf(4, 1)));
        assertThat(editor.freshName("then_y")).as("a name used only inside the If's branch").isEqualTo("then_y_2");
        assertThat(editor.freshName("then_y")).isEqualTo("then_y_3");
        assertThat(editor.freshName("new")).isEqualTo("new");
    }

    @Test
    void replacementsInsertionsAndInPlaceEditsLandTogetherAndOrphanedConstantsGo() throws Exception {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(3, 5, 2, false, 7));
        Path original = dir.resolve("original.onnx");
        model.copy().write(original);
        GraphEditor editor = new GraphEditor(model);
        // mm2 = MatMul(h2, w2) at position 3: scale h2 by 2 before it, and halve w2 in place of the old weight
        int mm2 = 3;
        String two = editor.addConstant("two", Tensors.scalarFloat("ignored", 2f));
        String doubled = editor.freshName("h2");
        editor.insertBefore(mm2, Nodes.node("Mul", editor.freshName("double"), List.of("h2", two), List.of(doubled)));
        float[] w2 = model.floats(model.constant("w2").orElseThrow());
        for (int i = 0; i < w2.length; i++) {
            w2[i] /= 2;
        }
        String halved = editor.addConstant("w2", Tensors.ofFloats("w2", new long[] {5, 2}, w2));
        editor.setInput(mm2, 0, doubled);
        editor.setInput(mm2, 1, halved);
        editor.mayBeUnused("w2");
        NodeProto relu = editor.index().node(2);
        editor.replace(2, List.of(relu.toBuilder().setOpType("Relu").build()));
        editor.apply();

        assertThat(model.graph().getNodeList()).extracting(NodeProto::getName)
                .containsExactly("mm1", "add1", "relu", "double", "mm2", "add2");
        assertThat(model.graph().getNode(4).getInputList()).containsExactly("h2_2", "w2_2");
        assertThat(model.constant("w2")).as("the orphaned weight is removed").isEmpty();
        Path edited = dir.resolve("edited.onnx");
        model.write(edited);
        Map<String, Object> feeds = Map.of("x", new Ort.Floats(new float[] {0.5f, -1f, 2f, 1f, 0f, -0.25f}, 2, 3));
        float[] expected = Ort.runFirstOutput(original, feeds);
        float[] actual = Ort.runFirstOutput(edited, feeds);
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).isCloseTo(expected[i], within(1e-5f));
        }
        OnnxChecker.assertValid(edited);
    }

    @Test
    void constantsReadOnlyBySubgraphsStay() {
        OnnxModel model = OnnxModel.of(SmallModels.withIf(4, 3));
        model.graph().addInitializer(Tensors.scalarFloat("nobody_reads_me", 1f));
        assertThat(GraphEditor.removeUnusedConstants(model)).isEqualTo(1);
        assertThat(model.constant("w")).as("read by the If's then-branch").isPresent();
        assertThat(model.constant("two")).as("read by the If's else-branch").isPresent();
        assertThat(model.constant("nobody_reads_me")).isEmpty();
    }

    @Test
    void deadChainsAreRemovedWhole() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(3, 5, 2, false, 7));
        model.graph().addNode(Nodes.node("Relu", "dead1", List.of("h1"), List.of("d1")))
                .addNode(Nodes.node("Neg", "dead2", List.of("d1"), List.of("d2")));
        assertThat(GraphEditor.removeDeadNodes(model)).isEqualTo(2);
        assertThat(model.graph().getNodeList()).extracting(NodeProto::getName).containsExactly("mm1", "add1", "relu", "mm2", "add2");
    }

    @Test
    void nodesOutOfOrderAreSorted() {
        OnnxModel model = OnnxModel.of(SmallModels.mlp(3, 5, 2, false, 7));
        List<NodeProto> reversed = new java.util.ArrayList<>(model.graph().getNodeList());
        java.util.Collections.reverse(reversed);
        model.graph().clearNode().addAllNode(reversed);
        GraphEditor.sortTopologically(model);
        assertThat(model.graph().getNodeList()).extracting(NodeProto::getName).containsExactly("mm1", "add1", "relu", "mm2", "add2");
    }
}
