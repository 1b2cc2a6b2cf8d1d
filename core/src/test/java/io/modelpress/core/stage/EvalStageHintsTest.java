package io.modelpress.core.stage;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.testing.StatefulVad;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The eval stage's {@code shape} and {@code value} keys: parsed and checked like the CLI's hints, and used. */
class EvalStageHintsTest {
    @TempDir
    Path dir;

    static StageSpec eval(String yaml) {
        Recipe recipe = RecipeParser.parse("stages:\n  - eval:\n" + yaml, "r.yaml");
        return recipe.stages().get(0);
    }

    static ModelPressException fails(String yaml) {
        return catchThrowableOfType(ModelPressException.class, () -> RecipeParser.parse("stages:\n  - eval:\n" + yaml, "r.yaml"));
    }

    @Test
    void shapesAndValuesAreReadInEveryForm() {
        StageSpec spec = eval("""
                      shape: { input: 1x512, state: [2, 1, 128] }
                      value: { sr: 16000, gain: 0.5, flag: true }
                """);
        assertThat(spec.object("shape")).containsEntry("input", "1x512").containsEntry("state", "2x1x128");
        assertThat(spec.object("value")).containsEntry("sr", "16000").containsEntry("gain", "0.5").containsEntry("flag", "1");
        InputHints hints = StageContext.hintsOf(spec);
        assertThat(hints.shapes().get("state")).containsExactly(2, 1, 128);
        assertThat(hints.values()).containsEntry("sr", 16000L).containsEntry("gain", 0.5);

        StageSpec plain = eval("      batch: 8\n");
        assertThat(StageContext.hintsOf(plain).isEmpty()).isTrue();
        // after a trip through JSON (pipeline events), numbers come back as numbers: the same hints
        StageSpec fromJson = new StageSpec(0, "eval", java.util.Map.of("shape", java.util.Map.of("input", "1x512"),
                "value", java.util.Map.of("sr", 16000)));
        assertThat(StageContext.hintsOf(fromJson).values()).containsEntry("sr", 16000L);
    }

    @Test
    void badHintsAreRecipeErrorsWithLineAndPath() {
        ModelPressException e = fails("      shape: { input: 1xa }\n");
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
        assertThat(e.getMessage()).contains("r.yaml:3:").contains("stages[0].eval.shape.input").contains("'a'").contains("1x512");

        e = fails("      value: { sr: fast }\n");
        assertThat(e.getMessage()).contains("stages[0].eval.value.sr").contains("not a number");

        e = fails("      shape: 1x512\n");
        assertThat(e.getMessage()).contains("stages[0].eval.shape").contains("a mapping of input name to shape, e.g. {input: 1x512}")
                .contains("found '1x512'");

        e = fails("      value: [16000]\n");
        assertThat(e.getMessage()).contains("stages[0].eval.value").contains("found a list");

        e = fails("      shape: { input: { a: 1 } }\n");
        assertThat(e.getMessage()).contains("stages[0].eval.shape.input").contains("nested");

        e = fails("      value: { sr: 16000, sr: 8000 }\n");
        assertThat(e.getMessage()).contains("stages[0].eval.value.sr").contains("given twice");
    }

    @Test
    void aRecipeWithHintsEvaluatesAStatefulModelAndTheContextOverridesIt() throws Exception {
        Path model = StatefulVad.write(dir.resolve("vad.onnx"), 1);
        Path original = Files.copy(model, dir.resolve("original.onnx"));
        StageSpec spec = eval("""
                      metrics: [cosine]
                      samples: 6
                      shape: { input: 1x512 }
                      value: { sr: 16000 }
                """);
        Path work = Files.createDirectories(dir.resolve("work"));
        StageOutcome outcome = Stages.forType("eval").run(new StageContext(spec, model, original, List.of(), null, work, 1, null));
        assertThat(outcome.report().get("samples").asLong()).isEqualTo(6);
        assertThat(outcome.report().get("outputs").get("stateN").get("cosine").get("min").asDouble()).isGreaterThan(0.999999);

        // the context's hints (the CLI) win: a 16-sample chunk is too short for the 16 kHz branch's padding
        InputHints tooShort = InputHints.parse(List.of("input=16"), List.of());
        ModelPressException e = catchThrowableOfType(ModelPressException.class, () -> Stages.forType("eval")
                .run(new StageContext(spec, model, original, List.of(), null, work, 1, null, tooShort)));
        assertThat(e.code()).isEqualTo(ErrorCode.DATA_MISMATCH);
        assertThat(e.getMessage()).contains("Pad reflect").contains("made up");
    }
}
