package io.modelpress.core.fuzz;

import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.quantize.qdq.TestCnns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CI budget of {@link ModelFuzzer}: 300 seeded cases over an MLP, a CNN and a model with an If subgraph. Every case
 * ends in success or a clear ModelPressException within 20 s. A longer run: {@code FuzzBench} in core's test classes
 * (see bench/README.md).
 */
class ModelFuzzTest {
    @TempDir
    Path dir;

    static List<byte[]> seedModels() {
        return List.of(SmallModels.mlp(16, 32, 4, false, 1).toByteArray(),
                SmallModels.mlp(8, 16, 3, true, 2).toByteArray(),
                TestCnns.fashionLike(4, 8, 16, false, 3).toByteArray(),
                SmallModels.withIf(8, 4).toByteArray());
    }

    @Test
    void mutatedModelsEndInSuccessOrAClearError() throws Exception {
        ModelFuzzer fuzzer = new ModelFuzzer(seedModels(), dir, 20_000);
        ModelFuzzer.Summary summary = fuzzer.run(20261208L, 300);

        assertThat(summary.findings()).as("cases that crashed or hung (replay a seed with ModelFuzzer.mutate)").isEmpty();
        assertThat(summary.accepted() + summary.rejectedByCode().values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(300);
        // mutations hit both sides: some models still read, most are refused with a reason
        assertThat(summary.rejectedByCode()).isNotEmpty();
    }

    /** The fuzzer's first finding: an operator with fewer inputs than its kind has crashed the MAC count. */
    @Test
    void aNodeWithFewerInputsThanItsOperatorTakesIsCountedWithoutACrash() throws Exception {
        var model = SmallModels.mlp(16, 32, 4, false, 1).toBuilder();
        var node = model.getGraphBuilder().getNodeBuilder(0);
        node.setOpType("Conv").clearInput().addInput(model.getGraph().getInput(0).getName());
        Path file = java.nio.file.Files.write(dir.resolve("one-input-conv.onnx"), model.build().toByteArray());

        io.modelpress.core.onnx.OnnxModel read = io.modelpress.core.onnx.OnnxModel.read(file);
        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> io.modelpress.core.stats.ModelStats.of(file, read,
                io.modelpress.core.stats.ModelStats.Options.DEFAULT));
        // ONNX Runtime names the problem (it was an IndexOutOfBoundsException in the MAC count before)
        assertThat(thrown).isInstanceOf(io.modelpress.core.ModelPressException.class).hasMessageContaining("input size 1");
    }

    @Test
    void aCaseIsTheSameForTheSameSeed() {
        ModelFuzzer fuzzer = new ModelFuzzer(seedModels(), dir, 1000);
        assertThat(fuzzer.mutate(42)).isEqualTo(fuzzer.mutate(42)).isNotEqualTo(fuzzer.mutate(43));
    }
}
