package io.modelpress.core.stats;

import ai.onnx.proto.OnnxMl.GraphProto;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class ModelStatsTest {
    @TempDir
    Path dir;

    @Test
    void mlpCountsParametersMacsAndSparsity() throws Exception {
        Path file = dir.resolve("mlp.onnx");
        OnnxModel model = OnnxModel.of(SmallModels.mlp(4, 8, 3, true, 1));
        Weights.replace(model, "w1", Tensors.ofFloats("w1", new long[] {4, 8}, new float[32]));
        model.write(file);

        ModelStats stats = ModelStats.of(file, OnnxModel.read(file), ModelStats.Options.DEFAULT);
        assertThat(stats.parameters()).isEqualTo(4 * 8 + 8 + 8 * 3 + 3);
        assertThat(stats.bytesByType()).containsEntry("float", 67L * 4);
        assertThat(stats.ops()).containsEntry("MatMul", 2).containsEntry("Constant", 4).containsEntry("Add", 2);
        assertThat(stats.macs()).isEqualTo(4 * 8 + 8 * 3);
        assertThat(stats.assumedDims()).containsEntry("batch", 1L);
        assertThat(stats.sparsity()).isCloseTo(32.0 / 67, within(1e-9));
        assertThat(stats.fileBytes()).isEqualTo(Files.size(file));

        ModelStats batch10 = ModelStats.of(file, OnnxModel.read(file), new ModelStats.Options(Map.of("batch", 10L), true));
        assertThat(batch10.macs()).isEqualTo(10L * (4 * 8 + 8 * 3));
        assertThat(batch10.toJson().get("macs").asLong()).isEqualTo(560);
        assertThat(batch10.toJson().get("parameters").asLong()).isEqualTo(67);
    }

    @Test
    void convMacsFollowOutputShapeAndFilterSize() throws Exception {
        var w = Tensors.ofFloats("w", new long[] {4, 3, 3, 3}, SmallModels.random(new Random(1), 108, 0.1f));
        GraphProto g = GraphProto.newBuilder().setName("conv")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "n", 3, 8, 8))
                .addInitializer(w)
                .addNode(Nodes.node("Conv", "conv", List.of("x", "w"), List.of("c"), Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("Relu", "relu", List.of("c"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "n", 4, 8, 8)).build();
        Path file = dir.resolve("conv.onnx");
        OnnxModel.of(SmallModels.model(g, 17)).write(file);
        ModelStats stats = ModelStats.of(file, OnnxModel.read(file), ModelStats.Options.DEFAULT);
        assertThat(stats.macs()).isEqualTo(4L * 8 * 8 * 3 * 3 * 3);
        assertThat(stats.macsByOp()).containsOnlyKeys("Conv");
    }

    @Test
    void macsInsideSubgraphsAreUnknownNotZero() {
        Path file = dir.resolve("if.onnx");
        OnnxModel.of(SmallModels.withIf(8, 3)).write(file);
        ModelStats stats = ModelStats.of(file, OnnxModel.read(file), ModelStats.Options.DEFAULT);
        assertThat(stats.macs()).isNull();
        assertThat(stats.uncountedMacOps()).containsExactly(Map.entry("MatMul", 1));
        assertThat(stats.toJson().get("macs").isNull()).isTrue();
        assertThat(stats.toJson().get("macs_uncounted_nodes").asInt()).isEqualTo(1);
        assertThat(stats.toJson().get("macs_uncounted_ops").get("MatMul").asInt()).isEqualTo(1);
    }

    @Test
    void anOperatorWithoutACountingRuleIsListedNeverCountedAsZero() {
        var w1 = Tensors.ofFloats("w1", new long[] {4, 8}, SmallModels.random(new Random(1), 32, 0.3f));
        var w2 = Tensors.ofFloats("w2", new long[] {8, 3}, SmallModels.random(new Random(2), 24, 0.3f));
        GraphProto.Builder g = GraphProto.newBuilder().setName("einsum")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 4)).addInitializer(w1).addInitializer(w2)
                .addNode(Nodes.node("MatMul", "mm", List.of("x", "w1"), List.of("h")))
                .addNode(Nodes.node("Einsum", "es", List.of("h", "w2"), List.of("y"), Nodes.attr("equation", "ij,jk->ik")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 3));
        Path mixed = dir.resolve("mixed.onnx");
        OnnxModel.of(SmallModels.model(g.build(), 17)).write(mixed);
        ModelStats partly = ModelStats.of(mixed, OnnxModel.read(mixed), ModelStats.Options.DEFAULT);
        assertThat(partly.macs()).isEqualTo(4 * 8); // what is known is counted, the rest is named
        assertThat(partly.uncountedMacOps()).containsExactly(Map.entry("Einsum", 1));

        g.removeNode(0).setInput(0, Nodes.tensorInfo("h", DataType.FLOAT, 1, 8));
        Path einsumOnly = dir.resolve("einsum.onnx");
        OnnxModel.of(SmallModels.model(g.build(), 17)).write(einsumOnly);
        ModelStats unknown = ModelStats.of(einsumOnly, OnnxModel.read(einsumOnly), ModelStats.Options.DEFAULT);
        assertThat(unknown.macs()).isNull();
        assertThat(unknown.uncountedMacOps()).containsExactly(Map.entry("Einsum", 1));
    }

    @Test
    void elementwiseOnlyModelsTrulyHaveZeroMacs() {
        GraphProto g = GraphProto.newBuilder().setName("relu")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "n", 4))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "n", 4)).build();
        Path file = dir.resolve("relu.onnx");
        OnnxModel.of(SmallModels.model(g, 17)).write(file);
        ModelStats stats = ModelStats.of(file, OnnxModel.read(file), ModelStats.Options.DEFAULT);
        assertThat(stats.macs()).isZero();
        assertThat(stats.uncountedMacOps()).isEmpty();
        assertThat(stats.toJson().get("macs").isIntegralNumber()).isTrue();
    }

    @Test
    void miniLmStatistics() {
        Path file = ReferenceModels.minilm();
        ModelStats stats = ModelStats.of(file, OnnxModel.read(file), new ModelStats.Options(Map.of("sequence_length", 128L), true));
        // all-MiniLM-L6-v2 has 22.7M parameters, 6 layers of 6 projection MatMuls + 2 attention MatMuls
        assertThat(stats.parameters()).isBetween(22_500_000L, 23_000_000L);
        assertThat(stats.ops().get("MatMul")).isEqualTo(6 * 8);
        assertThat(stats.inputs()).extracting(v -> v.name()).contains("input_ids", "attention_mask");
        // at 128 tokens: 6 layers x (4 x 384x384 + 2 x 384x1536) x 128 for projections, plus attention
        long projections = 6L * (4 * 384 * 384 + 2 * 384 * 1536) * 128;
        assertThat(stats.macs()).isGreaterThan(projections).isLessThan(projections * 13 / 10);
        assertThat(stats.uncountedMacNodes()).isZero();
        assertThat(stats.sparsity()).isLessThan(0.01);
    }

    @Test
    void quantizedModelCountsLikeForLike() {
        Path fp32 = ReferenceModels.minilm();
        Path int8 = ReferenceModels.minilmQuantized();
        ModelStats a = ModelStats.of(fp32, OnnxModel.read(fp32), new ModelStats.Options(Map.of("sequence_length", 32L), true));
        ModelStats b = ModelStats.of(int8, OnnxModel.read(int8), new ModelStats.Options(Map.of("sequence_length", 32L), true));
        assertThat(b.bytesByType()).containsKey("int8");
        assertThat((double) b.macs() / a.macs()).isCloseTo(1.0, within(0.01));
    }
}
