package io.modelpress.core.stage;

import ai.onnx.proto.OnnxMl.GraphProto;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A model that a quantization mode has nothing to do for passes through that mode's stage byte for byte, with data
 * given, and the stage report says why; the data is not read.
 */
class NothingToQuantizeTest {
    @TempDir
    Path dir;

    /** y = Relu(x) * 2: no operator that any mode quantizes. */
    private Path withoutCandidates() {
        GraphProto g = GraphProto.newBuilder().setName("plain")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 8))
                .addInitializer(Tensors.scalarFloat("two", 2f))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Mul", "double", List.of("r", "two"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 8)).build();
        return write("plain.onnx", g);
    }

    /** y = x @ x^T: a MatMul, but without a constant weight, so every mode must leave it float. */
    private Path withUnquantizableMatMul() {
        GraphProto g = GraphProto.newBuilder().setName("gram")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 8))
                .addNode(Nodes.node("Transpose", "t", List.of("x"), List.of("xt")))
                .addNode(Nodes.node("MatMul", "gram", List.of("x", "xt"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", "batch")).build();
        return write("gram.onnx", g);
    }

    private Path write(String name, GraphProto graph) {
        Path file = dir.resolve(name);
        OnnxModel.of(SmallModels.model(graph, 17)).write(file);
        return file;
    }

    private Path data() {
        Path file = dir.resolve("samples.npz");
        NpyWriter.writeNpz(file, Map.of("x", HostArray.of(SmallModels.random(new Random(1), 16 * 8, 1f), 16, 8)), false);
        return file;
    }

    private StageOutcome quantize(Path model, String mode, Path data) throws Exception {
        StageSpec spec = RecipeParser.parse("stages:\n  - quantize: { mode: " + mode + " }\n", "test.yaml").stages().get(0);
        Path work = Files.createDirectories(dir.resolve("work-" + mode + "-" + model.getFileName()));
        return Stages.forType("quantize").run(new StageContext(spec, model, model, List.of(data), null, work, 1, null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dynamic", "static", "weight-only"})
    void aModelWithoutCandidatesPassesThroughUnchangedAndTheReportSaysWhy(String mode) throws Exception {
        Path model = withoutCandidates();
        StageOutcome outcome = quantize(model, mode, data());

        assertThat(Files.mismatch(model, outcome.model())).as("byte-identical").isEqualTo(-1L);
        JsonNode report = outcome.report();
        assertThat(report.get("unchanged").asBoolean()).isTrue();
        assertThat(report.get("quantized_nodes").asLong()).isZero();
        assertThat(report.get("input_bytes").asLong()).isEqualTo(report.get("output_bytes").asLong());
        assertThat(report.get("notes").get("result").asText()).startsWith("nothing to quantize: the model has no ")
                .contains("MatMul").endsWith("the model passes through unchanged");
        assertThat(outcome.gatePassed()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"dynamic", "static", "weight-only"})
    void aModelWhoseOnlyCandidateMustStayFloatPassesThroughWithTheReason(String mode) throws Exception {
        Path model = withUnquantizableMatMul();
        StageOutcome outcome = quantize(model, mode, data());

        assertThat(Files.mismatch(model, outcome.model())).as("byte-identical").isEqualTo(-1L);
        JsonNode report = outcome.report();
        assertThat(report.get("unchanged").asBoolean()).isTrue();
        assertThat(report.get("notes").get("result").asText())
                .isEqualTo("nothing to quantize: none of the 1 candidate node can be quantized (each one's reason is listed); "
                        + "the model passes through unchanged");
        assertThat(report.get("nodes")).hasSize(1);
        assertThat(report.get("nodes").get(0).get("node").asText()).isEqualTo("gram");
        assertThat(report.get("nodes").get(0).get("reason").asText()).containsIgnoringCase("constant");
    }

    @Test
    void whenEveryCandidateIsKeptFloatTheModelPassesThroughUnchangedToo() throws Exception {
        Path model = dir.resolve("mlp.onnx");
        OnnxModel.of(SmallModels.mlp(8, 16, 4, false, 3)).write(model);
        StageSpec spec = RecipeParser.parse("stages:\n  - quantize: { mode: dynamic, keep_float: 2 }\n", "test.yaml").stages().get(0);
        Path work = Files.createDirectories(dir.resolve("work-keep-float"));
        StageOutcome outcome = Stages.forType("quantize").run(new StageContext(spec, model, model, List.of(data()), null, work, 1, null));

        assertThat(Files.mismatch(model, outcome.model())).as("byte-identical, SmoothQuant's float rewrites dropped").isEqualTo(-1L);
        assertThat(outcome.report().get("unchanged").asBoolean()).isTrue();
        assertThat(outcome.report().get("notes").get("result").asText())
                .startsWith("nothing to quantize: none of the 2 candidate nodes can be quantized");
        assertThat(outcome.report().get("nodes")).allSatisfy(n -> assertThat(n.get("reason").asText()).contains("keep_float"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"dynamic", "static", "weight-only"})
    void theDataIsNotReadWhenThereIsNothingToCalibrate(String mode) throws Exception {
        Path model = withoutCandidates();
        Path unreadable = Files.write(dir.resolve("calib.npz"), new byte[] {1, 2, 3, 4});
        StageOutcome outcome = quantize(model, mode, unreadable);

        assertThat(outcome.report().get("unchanged").asBoolean()).isTrue();
        assertThat(Files.mismatch(model, outcome.model())).isEqualTo(-1L);
    }

    @Test
    void theBuiltInDynamicRecipeWithDataEndsWithTheModelUnchangedAndItsGatePassed() throws Exception {
        Path model = withoutCandidates();
        Path out = dir.resolve("out");
        Compressor.Result result = Compressor.run(new Compressor.Request(model, Recipes.builtIn("int8-dynamic"), List.of(data()), null,
                out, 1), new Compressor.Listener() {
            public void stageStarted(StageSpec stage, int count) {
            }

            public void progress(StageSpec stage, double fraction, String message) {
            }

            public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
            }
        });

        assertThat(result.gateFailure()).isNull();
        assertThat(Files.mismatch(model, result.model())).isEqualTo(-1L);
        JsonNode quantize = result.json().get("stages").get(0).get("report");
        assertThat(quantize.get("notes").get("result").asText()).startsWith("nothing to quantize");
        JsonNode eval = result.json().get("stages").get(1).get("report");
        assertThat(eval.get("outputs").get("y").get("cosine").get("mean").asDouble()).isEqualTo(1.0);
    }
}
