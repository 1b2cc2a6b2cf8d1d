package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.testing.OnnxChecker;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class BatchNormFoldingTest {
    @TempDir
    Path dir;

    private static float[] images(long seed, int n) {
        Random random = new Random(seed);
        float[] x = new float[n * 28 * 28];
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextFloat();
        }
        return x;
    }

    /** Largest absolute difference relative to the largest absolute reference value. */
    private static double relativeError(float[] reference, float[] actual) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < reference.length; i++) {
            diff = Math.max(diff, Math.abs(reference[i] - actual[i]));
            scale = Math.max(scale, Math.abs(reference[i]));
        }
        return diff / scale;
    }

    @Test
    void foldingIsExact() {
        for (boolean constantNodes : new boolean[] {false, true}) {
            ModelProto original = TestCnns.fashionLike(8, 16, 32, constantNodes, 11);
            OnnxModel model = OnnxModel.of(original);
            List<BatchNormFolding.Outcome> outcomes = BatchNormFolding.fold(model);

            assertThat(outcomes).hasSize(2).allMatch(BatchNormFolding.Outcome::folded);
            assertThat(outcomes).extracting(BatchNormFolding.Outcome::conv).containsExactly("conv1", "conv2");
            assertThat(model.graph().getNodeList()).noneMatch(n -> n.getOpType().equals("BatchNormalization"));
            // the BatchNormalization parameters and the unfolded weights are gone
            assertThat(model.graph().getInitializerList()).noneMatch(t -> t.getName().contains(".bn."));
            assertThat(model.graph().getNodeList()).noneMatch(n -> n.getOutputList().stream().anyMatch(o -> o.contains(".bn.")));

            Path before = dir.resolve("before-" + constantNodes + ".onnx");
            Path after = dir.resolve("after-" + constantNodes + ".onnx");
            OnnxModel.of(original).write(before);
            model.write(after);
            float[] x = images(3, 16);
            Map<String, Object> feed = Map.of("input", new Ort.Floats(x, 16, 1, 28, 28));
            float[] expected = Ort.runFirstOutput(before, feed);
            float[] actual = Ort.runFirstOutput(after, feed);
            assertThat(relativeError(expected, actual)).as("constant nodes: %s", constantNodes).isLessThan(1e-5);
            OnnxChecker.assertValid(after);
        }
    }

    @Test
    void leavesAloneWhatCannotBeFolded() {
        Random random = new Random(5);
        int c = 4;
        // the Conv output is read by the BatchNormalization and by a second branch: folding would change that branch
        GraphProto.Builder g = GraphProto.newBuilder().setName("shared")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 2, 8, 8))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, c, 8, 8))
                .addOutput(Nodes.tensorInfo("raw", DataType.FLOAT, 1, c, 8, 8))
                .addInitializer(Tensors.ofFloats("w", new long[] {c, 2, 3, 3}, SmallModels.random(random, c * 18, 0.3f)))
                .addInitializer(Tensors.ofFloats("scale", new long[] {c}, new float[] {1, 2, 3, 4}))
                .addInitializer(Tensors.ofFloats("bias", new long[] {c}, new float[] {0, 0, 0, 0}))
                .addInitializer(Tensors.ofFloats("mean", new long[] {c}, new float[] {0, 1, 0, 1}))
                .addInitializer(Tensors.ofFloats("var", new long[] {c}, new float[] {1, 1, 2, 2}))
                .addNode(Nodes.node("Conv", "conv", List.of("x", "w"), List.of("raw"), Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("BatchNormalization", "bn", List.of("raw", "scale", "bias", "mean", "var"), List.of("y")));
        OnnxModel model = OnnxModel.of(SmallModels.model(g.build(), 17));
        List<BatchNormFolding.Outcome> outcomes = BatchNormFolding.fold(model);
        assertThat(outcomes).singleElement().satisfies(o -> {
            assertThat(o.folded()).isFalse();
            assertThat(o.skippedReason()).contains("read elsewhere");
        });
        assertThat(model.graph().getNodeList()).extracting(NodeProto::getOpType).containsExactly("Conv", "BatchNormalization");

        // a BatchNormalization on a graph input has no Conv to fold into
        GraphProto.Builder alone = GraphProto.newBuilder().setName("alone")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, c, 8, 8))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, c, 8, 8))
                .addAllInitializer(g.getInitializerList().subList(1, 5))
                .addNode(Nodes.node("BatchNormalization", "bn", List.of("x", "scale", "bias", "mean", "var"), List.of("y")));
        assertThat(BatchNormFolding.fold(OnnxModel.of(SmallModels.model(alone.build(), 17))))
                .singleElement().extracting(BatchNormFolding.Outcome::skippedReason).asString().contains("does not come from a Conv");
    }
}
