package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.transform.SiblingMatMulFusion;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

class SiblingMatMulFusionTest {
    @TempDir
    Path dir;

    /** q, k, v projections of one input (with biases, Add(bias, x@W) order for v) plus an unbiased fourth one. */
    private static GraphProto attentionLike(Random random) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("siblings")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 5, 8))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 5, 6));
        for (String p : List.of("q", "k", "v")) {
            g.addInitializer(Tensors.ofFloats("w_" + p, new long[] {8, 6}, SmallModels.random(random, 48, 0.5f)));
            g.addInitializer(Tensors.ofFloats("b_" + p, new long[] {6}, SmallModels.random(random, 6, 0.5f)));
            g.addNode(Nodes.node("MatMul", "mm_" + p, List.of("x", "w_" + p), List.of("xw_" + p)));
            List<String> addInputs = p.equals("v") ? List.of("b_" + p, "xw_" + p) : List.of("xw_" + p, "b_" + p);
            g.addNode(Nodes.node("Add", "add_" + p, addInputs, List.of(p)));
        }
        g.addInitializer(Tensors.ofFloats("w_u", new long[] {8, 6}, SmallModels.random(random, 48, 0.5f)));
        g.addNode(Nodes.node("MatMul", "mm_u", List.of("x", "w_u"), List.of("u")));
        g.addNode(Nodes.node("Mul", "qk", List.of("q", "k"), List.of("qk")))
                .addNode(Nodes.node("Add", "qkv", List.of("qk", "v"), List.of("qkv")))
                .addNode(Nodes.node("Sub", "out", List.of("qkv", "u"), List.of("y")));
        return g.build();
    }

    @ParameterizedTest
    @ValueSource(longs = {11, 13, 17})
    void siblingsBecomeOneMatMulWithTheSameOutputs(long opset) {
        Path before = dir.resolve("before.onnx");
        Path after = dir.resolve("after.onnx");
        OnnxModel model = OnnxModel.of(SmallModels.model(attentionLike(new Random(4)), opset));
        model.write(before);

        int merged = merge(model, Set.of());
        model.write(after);

        // the three biased projections merge (2 MatMuls fewer); the unbiased one is alone in its group
        assertThat(merged).isEqualTo(2);
        List<String> ops = model.graph().getNodeList().stream().map(NodeProto::getOpType).toList();
        assertThat(ops.stream().filter("MatMul"::equals).count()).isEqualTo(2);
        assertThat(ops).contains("Split");
        assertThat(model.graph().getInitializerList()).noneMatch(t -> t.getName().equals("w_q") || t.getName().equals("b_v"));
        float[] x = SmallModels.random(new Random(9), 40, 1f);
        float[] expected = Ort.runFirstOutput(before, Map.of("x", new Ort.Floats(x, 1, 5, 8)));
        float[] actual = Ort.runFirstOutput(after, Map.of("x", new Ort.Floats(x, 1, 5, 8)));
        assertThat(actual).containsExactly(expected, offset(1e-5f));
        OnnxChecker.assertValid(after);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mm_k", "none"})
    void excludedOrSharedWeightsStayApart(String excluded) {
        OnnxModel model = OnnxModel.of(SmallModels.model(attentionLike(new Random(4)), 13));
        if (excluded.equals("none")) {
            // w_q also read by a second node: merging would need two copies of it
            model.graph().addNode(Nodes.node("MatMul", "extra", List.of("x", "w_q"), List.of("extra_out")));
            model.graph().addOutput(Nodes.tensorInfo("extra_out", DataType.FLOAT, 1, 5, 6));
            assertThat(merge(model, Set.of())).isEqualTo(1);
        } else {
            assertThat(merge(model, Set.of(excluded))).isEqualTo(1);
        }
    }

    private static int merge(OnnxModel model, Set<String> keepAlone) {
        return new SiblingMatMulFusion(new SiblingMatMulFusion.Options(NodeSelector.ALL, keepAlone)).apply(model).changes();
    }
}
