package io.modelpress.cli;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.eval.Similarity;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.testing.DetectionCnn;
import io.modelpress.core.testing.OrtOutputs;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.PruningModels;
import io.modelpress.core.testing.SmallModels;
import io.modelpress.core.testing.StatefulVad;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every built-in recipe over models of other kinds than the ones it was tuned on - a detection-style CNN with large
 * constants, a stateful VAD-style model (scalar and state inputs, an If), an opset-9 model, a model with nothing to
 * quantize, an If model with a bool input, a residual CNN, a small transformer encoder - through {@code modelpress
 * compress} as a user runs it. Each run either exits 0 with a model that is judged here, independently of ModelPress's
 * evaluator, to match the original within the recipe's own gate in ONNX Runtime (on inputs of other sizes than the
 * evaluation used), or exits 3 with a gate failure that names the failed limit. Never 0 with a model outside its gate.
 */
class BuiltInRecipeRobustnessTest {
    /** Judged on other inputs than the gate was: a per-output cosine may sit this much below the gate's limit. */
    private static final double JUDGE_SLACK = 0.01;

    @TempDir
    static Path dir;

    /**
     * A model, the CLI hints it needs for synthetic inputs, sample data for the recipes that need data (static INT8
     * calibration refuses to guess activation ranges from made-up inputs), and the inputs to judge it on.
     */
    private record Case(String name, ModelProto model, List<String> hints, Map<String, HostArray> data,
                        List<Map<String, Object>> judgeFeeds) {
    }

    /** Recipes that calibrate on data and refuse to run without it. */
    private static final List<String> NEED_DATA = List.of("int8-static");

    @TestFactory
    Stream<DynamicTest> everyBuiltInRecipeOnEveryModelPassesItsGateOrSaysWhy() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Case c : cases()) {
            for (String recipe : Recipes.BUILT_IN) {
                tests.add(DynamicTest.dynamicTest(recipe + " on " + c.name(), () -> check(c, recipe)));
            }
        }
        return tests.stream();
    }

    private static void check(Case c, String recipe) throws Exception {
        Path model = dir.resolve(c.name() + ".onnx");
        if (!Files.exists(model)) {
            OnnxModel.of(c.model()).write(model);
        }
        Path out = dir.resolve(c.name() + "-" + recipe);
        List<String> args = new ArrayList<>(List.of("compress", model.toString(), "--recipe", recipe, "--out", out.toString(),
                "--threads", "1"));
        args.addAll(c.hints());
        if (NEED_DATA.contains(recipe)) {
            Path data = dir.resolve(c.name() + "-calib.npz");
            if (!Files.exists(data)) {
                NpyWriter.writeNpz(data, c.data(), true);
            }
            args.addAll(List.of("--data", data.toString()));
        }
        CliRunner r = CliRunner.run(args.toArray(String[]::new));

        assertThat(r.exitCode()).as("exit code of %s on %s (0 passed, 3 gate failed); stderr: %s", recipe, c.name(), r.err())
                .isIn(0, CompressCommand.GATE_FAILED);
        assertThat(r.err()).as("no stack trace for the user").doesNotContain("\tat ", "Exception:");
        JsonNode report = new ObjectMapper().readTree(Files.readString(out.resolve("report.json")));
        if (r.exitCode() == CompressCommand.GATE_FAILED) {
            assertThat(report.get("gate").asText()).isEqualTo("failed");
            assertThat(r.out()).as("a failed gate says which limit and why").contains("gate      FAILED").containsPattern("min_cosine|max_accuracy_drop|min_agreement");
            return;
        }
        assertThat(report.get("gate").asText()).as("built-in recipes all have a gate").isEqualTo("passed");
        double limit = ((Number) Recipes.builtIn(recipe).stagesOfType("eval").get(0).object("gate").get("min_cosine")).doubleValue();
        Path compressed = out.resolve("model.onnx");
        for (Map<String, Object> feeds : c.judgeFeeds()) {
            Map<String, float[]> expected = OrtOutputs.run(model, feeds);
            Map<String, float[]> actual = OrtOutputs.run(compressed, feeds);
            assertThat(actual.keySet()).as("interface kept").isEqualTo(expected.keySet());
            for (String output : expected.keySet()) {
                double cosine = Similarity.cosine(expected.get(output), actual.get(output));
                assertThat(cosine).as("%s on %s: output %s at feeds %s, cosine to the original (gate min_cosine %.3f)",
                        recipe, c.name(), output, shapes(feeds), limit).isGreaterThanOrEqualTo(limit - JUDGE_SLACK);
            }
        }
    }

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("detection-cnn", DetectionCnn.build(11), List.of(), Map.of("image", gaussian(21, 16, 3, 48, 64)),
                List.of(Map.of("image", floats(1, 2, 3, 64, 48)), Map.of("image", floats(2, 1, 3, 40, 96)))));
        cases.add(new Case("stateful-vad", StatefulVad.model(12), List.of("--value", "sr=16000", "--shape", "input=1x1024"),
                Map.of("input", gaussian(22, 16, 1024), "sr", HostArray.of(new long[] {16000}), "state", gaussian(23, 2, 16, StatefulVad.STATE)),
                List.of(vadFeeds(3, 2, 1536), vadFeeds(4, 1, 4096))));
        cases.add(new Case("opset9-mlp", opset9(SmallModels.mlp(32, 64, 8, false, 13)), List.of(), Map.of("x", gaussian(24, 32, 32)),
                List.of(Map.of("x", floats(5, 4, 32)), Map.of("x", floats(6, 1, 32)))));
        cases.add(new Case("nothing-to-quantize", elementwiseOnly(), List.of(), Map.of("x", gaussian(25, 32, 16)),
                List.of(Map.of("x", floats(7, 3, 16)), Map.of("x", floats(8, 1, 16)))));
        cases.add(new Case("if-with-bool-input", SmallModels.withIf(16, 14), List.of(), Map.of("cond", trueScalar(), "x", gaussian(26, 1, 16)),
                List.of(Map.of("cond", true, "x", floats(9, 1, 16)), Map.of("cond", false, "x", floats(10, 1, 16)))));
        cases.add(new Case("residual-se-cnn", PruningModels.residualCnn(15, false), List.of(), Map.of("x", gaussian(27, 16, 3, 16, 16)),
                List.of(Map.of("x", floats(11, 1, 3, 16, 16)), Map.of("x", floats(12, 1, 3, 16, 16)))));
        cases.add(new Case("encoder", PruningModels.encoder(16), List.of(), Map.of("x", gaussian(28, 32, 5, 32)),
                List.of(Map.of("x", floats(13, 2, 5, 32)), Map.of("x", floats(14, 1, 17, 32)))));
        cases.add(new Case("mlp-constant-node-weights", SmallModels.mlp(24, 48, 6, true, 17), List.of(), Map.of("x", gaussian(29, 32, 24)),
                List.of(Map.of("x", floats(15, 3, 24)))));
        return cases;
    }

    private static Ort.Floats floats(long seed, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        Random random = new Random(seed);
        float[] values = new float[(int) n];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return new Ort.Floats(values, shape);
    }

    private static HostArray gaussian(long seed, long... shape) {
        Ort.Floats f = floats(seed, shape);
        return HostArray.of(f.data(), f.shape());
    }

    private static HostArray trueScalar() {
        HostArray scalar = HostArray.zeros(DataType.BOOL);
        scalar.setLong(0, 1);
        return scalar;
    }

    private static Map<String, Object> vadFeeds(long seed, int batch, int samples) {
        Map<String, Object> feeds = new LinkedHashMap<>();
        feeds.put("input", floats(seed, batch, samples));
        feeds.put("sr", new OrtOutputs.Longs(new long[] {16000}));
        feeds.put("state", floats(seed + 100, 2, batch, StatefulVad.STATE));
        return feeds;
    }

    /** The same model declared at opset 9 (its operators mean the same there). */
    private static ModelProto opset9(ModelProto model) {
        return model.toBuilder().setIrVersion(4).clearOpsetImport()
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(9)).build();
    }

    /** y = Sigmoid(x) * x + Relu(x): no weight any mode could quantize. */
    private static ModelProto elementwiseOnly() {
        GraphProto graph = GraphProto.newBuilder().setName("elementwise")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 16))
                .addInitializer(Tensors.scalarFloat("half", 0.5f))
                .addNode(Nodes.node("Sigmoid", "gate", List.of("x"), List.of("g")))
                .addNode(Nodes.node("Mul", "swish", List.of("x", "g"), List.of("s")))
                .addNode(Nodes.node("Relu", "relu", List.of("x"), List.of("r")))
                .addNode(Nodes.node("Mul", "halve", List.of("r", "half"), List.of("h")))
                .addNode(Nodes.node("Add", "sum", List.of("s", "h"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 16))
                .build();
        return SmallModels.model(graph, 17);
    }

    private static String shapes(Map<String, Object> feeds) {
        Map<String, String> shapes = new LinkedHashMap<>();
        feeds.forEach((name, value) -> shapes.put(name, value instanceof Ort.Floats f ? java.util.Arrays.toString(f.shape())
                : String.valueOf(value)));
        return shapes.toString();
    }
}
