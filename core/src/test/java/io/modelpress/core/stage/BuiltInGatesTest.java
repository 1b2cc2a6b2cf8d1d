package io.modelpress.core.stage;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.fasterxml.jackson.databind.JsonNode;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.NpyWriter;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.Ort;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The built-in recipes' default gates: the recipe's own result passes, with synthetic inputs and with labelled data,
 * and a broken model (weights scrambled, or drowned in noise) fails, whichever data there is.
 */
class BuiltInGatesTest {
    private static final int IN = 32;
    private static final int CLASSES = 10;

    @TempDir
    Path dir;

    /** A 32 -> 128 -> 10 classifier. */
    private Path original() {
        Path file = dir.resolve("classifier.onnx");
        OnnxModel.of(SmallModels.mlp(IN, 128, CLASSES, false, 11)).write(file);
        return file;
    }

    /** 256 samples labelled with the original's own answers: its accuracy is 100 %, any lost point shows. */
    private Path labelledData(Path original) {
        float[] x = SmallModels.random(new Random(12), 256 * IN, 1f);
        float[] logits = Ort.runFirstOutput(original, Map.of("x", new Ort.Floats(x, 256, IN)));
        long[] labels = new long[256];
        for (int s = 0; s < labels.length; s++) {
            for (int c = 1; c < CLASSES; c++) {
                labels[s] = logits[s * CLASSES + c] > logits[s * CLASSES + (int) labels[s]] ? c : labels[s];
            }
        }
        Path file = dir.resolve("samples.npz");
        Map<String, HostArray> arrays = new LinkedHashMap<>();
        arrays.put("x", HostArray.of(x, 256, IN));
        arrays.put("labels", HostArray.of(labels, 256));
        NpyWriter.writeNpz(file, arrays, false);
        return file;
    }

    /** Each float weight's values shuffled: the shapes and value distribution of the original, none of its function. */
    private Path scrambled(Path original) {
        Random random = new Random(13);
        return rewritten(original, "scrambled.onnx", values -> {
            List<Float> list = new ArrayList<>();
            for (float v : values) {
                list.add(v);
            }
            Collections.shuffle(list, random);
            for (int i = 0; i < values.length; i++) {
                values[i] = list.get(i);
            }
        });
    }

    /** Gaussian noise as large as each weight's own spread added to it: damaged, not destroyed. */
    private Path noisy(Path original) {
        Random random = new Random(14);
        return rewritten(original, "noisy.onnx", values -> {
            double square = 0;
            for (float v : values) {
                square += v * v;
            }
            double rms = Math.sqrt(square / values.length);
            for (int i = 0; i < values.length; i++) {
                values[i] += (float) (random.nextGaussian() * rms);
            }
        });
    }

    private Path rewritten(Path original, String name, java.util.function.Consumer<float[]> edit) {
        OnnxModel model = OnnxModel.read(original);
        ModelProto proto = model.build();
        var graph = proto.getGraph().toBuilder().clearInitializer();
        for (TensorProto t : proto.getGraph().getInitializerList()) {
            float[] values = model.floats(t);
            edit.accept(values);
            graph.addInitializer(Tensors.ofFloats(t.getName(), Tensors.dims(t), values));
        }
        Path file = dir.resolve(name);
        OnnxModel.of(proto.toBuilder().setGraph(graph).build()).write(file);
        return file;
    }

    private static Compressor.Result compress(Path model, String recipe, List<Path> data, Path out) {
        return Compressor.run(new Compressor.Request(model, Recipes.builtIn(recipe), data, null, out, 1), new Compressor.Listener() {
            public void stageStarted(StageSpec stage, int count) {
            }

            public void progress(StageSpec stage, double fraction, String message) {
            }

            public void stageFinished(StageSpec stage, StageOutcome outcome, Duration took) {
            }
        });
    }

    /** The recipe's own eval stage, judging {@code model} against {@code original}. */
    private StageOutcome evaluate(String recipe, Path model, Path original, List<Path> data) throws Exception {
        StageSpec eval = Recipes.builtIn(recipe).stages().stream().filter(s -> s.type().equals("eval")).findFirst().orElseThrow();
        Path work = Files.createTempDirectory(dir, "eval");
        return Stages.forType("eval").run(new StageContext(eval, model, original, data, null, work, 1, null));
    }

    private static double cosine(JsonNode eval) {
        return eval.get("outputs").get("y").get("cosine").get("mean").asDouble();
    }

    @ParameterizedTest
    @ValueSource(strings = {"int8-dynamic", "int8-static", "int4-weight-only", "fp16"})
    void everyBuiltInRecipeHasAGateThatItsOwnResultPasses(String recipe) {
        Path original = original();
        Path data = labelledData(original);
        assertThat(Recipes.builtIn(recipe).stages().stream().filter(s -> s.type().equals("eval")))
                .singleElement().satisfies(eval -> assertThat(eval.object("gate")).containsKey("min_cosine").containsKey("or"));

        Compressor.Result withData = compress(original, recipe, List.of(data), dir.resolve("with-data"));
        assertThat(withData.gateFailure()).as("gate with labelled data").isNull();
        JsonNode eval = withData.json().get("stages").get(1).get("report");
        assertThat(eval.get("gate_checks").get(0).get("name").asText()).isEqualTo("min_cosine");
        assertThat(eval.get("gate_checks").get(0).get("passed").asBoolean()).isTrue();

        if (!recipe.equals("int8-static")) { // the one recipe that needs data
            Compressor.Result synthetic = compress(original, recipe, List.of(), dir.resolve("synthetic"));
            assertThat(synthetic.gateFailure()).as("gate on synthetic inputs").isNull();
            assertThat(synthetic.json().get("gate").asText()).isEqualTo("passed");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"int8-dynamic", "int8-static", "int4-weight-only", "fp16"})
    void aBrokenModelFailsEveryBuiltInGateWithOrWithoutData(String recipe) throws Exception {
        Path original = original();
        Path data = labelledData(original);
        for (Path broken : List.of(scrambled(original), noisy(original))) {
            for (List<Path> given : List.of(List.<Path>of(), List.of(data))) {
                StageOutcome outcome = evaluate(recipe, broken, original, given);
                String what = broken.getFileName() + (given.isEmpty() ? " on synthetic inputs" : " on labelled data");
                // the collapse regime the gates are there to catch
                assertThat(cosine(outcome.report())).as("cosine of %s", what).isBetween(-0.5, 0.75);
                assertThat(outcome.gatePassed()).as("gate of %s", what).isFalse();
                assertThat(outcome.report().get("gate").asText()).isEqualTo("failed");
                assertThat(outcome.gateFailure()).as(what).startsWith("min_cosine = ").contains("below the limit", "`or` limits fail too");
                if (given.isEmpty()) {
                    assertThat(outcome.gateFailure()).contains("or.max_accuracy_drop could not be measured");
                }
            }
        }
    }
}
