package io.modelpress.core.recipe;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

class RecipeParserTest {
    private static ModelPressException fails(String yaml) {
        ModelPressException e = catchThrowableOfType(ModelPressException.class, () -> RecipeParser.parse(yaml, "recipe.yaml"));
        assertThat(e).as("recipe must be rejected:\n%s", yaml).isNotNull();
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_RECIPE);
        return e;
    }

    @Test
    void blueprintStyleRecipeParsesWithDefaults() {
        Recipe r = RecipeParser.parse("""
                name: bert-int8
                stages:
                  - quantize: { mode: dynamic, weights: int8-per-channel }
                  - eval:     { metrics: [cosine, latency], gate: { min_cosine: 0.99 } }
                tuning: { on_gate_failure: fail, max_attempts: 2, time_budget: 45m }
                """, "recipe.yaml");
        assertThat(r.name()).isEqualTo("bert-int8");
        assertThat(r.stages()).extracting(StageSpec::type).containsExactly("quantize", "eval");
        StageSpec q = r.stages().get(0);
        assertThat(q.string("weights")).isEqualTo("int8");
        assertThat(q.string("granularity")).isEqualTo("per-channel");
        assertThat(q.bool("embeddings")).isTrue();
        assertThat(q.has("calibration")).as("static-only keys get no default in dynamic mode").isFalse();
        StageSpec eval = r.stages().get(1);
        assertThat(eval.strings("metrics")).containsExactly("cosine", "latency");
        assertThat(eval.object("gate")).containsEntry("min_cosine", 0.99).doesNotContainKey("max_accuracy_drop");
        assertThat(eval.integer("batch")).isEqualTo(32);
        assertThat(r.tuning().timeBudget()).isEqualTo(Duration.ofMinutes(45));
        assertThat(r.tuning().maxAttempts()).isEqualTo(2);
        assertThat(q.label()).isEqualTo("01-quantize");
    }

    @Test
    void modeDependentDefaults() {
        Recipe r = RecipeParser.parse("stages:\n  - quantize: { mode: weight-only }\n  - quantize:\n      mode: static\n      calibration: entropy\n",
                "two.yaml");
        assertThat(r.name()).isEqualTo("two");
        assertThat(r.stages().get(0).string("weights")).isEqualTo("int4");
        assertThat(r.stages().get(0).integer("block_size")).isEqualTo(32);
        assertThat(r.stages().get(1).string("calibration")).isEqualTo("entropy");
        assertThat(r.stages().get(1).string("activations")).isEqualTo("uint8");
        assertThat(r.stages().get(1).numberOrOff("smoothquant")).hasValue(0.5);
        Recipe dynamic = RecipeParser.parse("stages:\n  - quantize: { mode: dynamic }\n", "d.yaml");
        assertThat(dynamic.stages().get(0).numberOrOff("smoothquant")).hasValue(0.8);
    }

    @Test
    void badValueNamesPathLineAndExpectation() {
        ModelPressException e = fails("""
                stages:
                  - quantize: { mode: dynamc }
                """);
        assertThat(e.getMessage()).contains("recipe.yaml:2:23").contains("stages[0].quantize.mode")
                .contains("one of: dynamic, static, weight-only").contains("'dynamc'");
    }

    @Test
    void unknownKeysAndMisplacedKeysAreRejectedAllAtOnce() {
        ModelPressException e = fails("""
                stages:
                  - quantize:
                      mode: dynamic
                      calibration: entropy
                      colour: blue
                  - eval: { batch: 0, gate: { min_cosine: 2 } }
                extra: 1
                """);
        assertThat(e.getMessage())
                .contains("5 problems")
                .contains("recipe.yaml:4:7 stages[0].quantize.calibration: applies only to mode: static")
                .contains("recipe.yaml:5:7 stages[0].quantize.colour: unknown key; expected one of: mode, weights")
                .contains("stages[1].eval.batch: expected an integer from 1 to 4096, found '0'")
                .contains("stages[1].eval.gate.min_cosine: expected a number from -1 to 1, found '2'")
                .contains("recipe.yaml:7:1 extra: unknown key");
    }

    @Test
    void structuralMistakes() {
        assertThat(fails("stages: []").getMessage()).contains("at least one stage");
        assertThat(fails("name: x").getMessage()).contains("stages: is missing");
        assertThat(fails("- quantize").getMessage()).contains("must be a mapping");
        assertThat(fails("stages:\n  - quantize: { mode: dynamic }\n    eval: {}\n").getMessage()).contains("exactly one stage type");
        // distill comes with module train, which core's tests do not have
        assertThat(fails("stages:\n  - distill: {}\n").getMessage()).contains("unknown stage type").contains("quantize, convert, prune, lowrank, eval");
        assertThat(fails("stages:\n  - squash: {}\n").getMessage()).contains("unknown stage type");
        assertThat(fails("stages:\n  - quantize: {}\n").getMessage()).contains("mode: is required");
        assertThat(fails("stages: [ {quantize: {mode: dynamic}}\n").getMessage()).contains("not valid YAML");
        assertThat(fails("stages:\n  - quantize: { mode: dynamic, exclude: { patterns: ['(unclosed'] } }\n").getMessage())
                .contains("exclude.patterns[0]").contains("regular expression");
        assertThat(fails("stages:\n  - quantize: { mode: dynamic, mode: static }\n").getMessage()).contains("mode: is given twice");
    }

    @Test
    void hostileYamlIsRefusedQuickly() {
        String laughs = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                + "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
        assertThat(fails(laughs).getMessage()).containsAnyOf("not valid YAML", "unknown key");
        assertThat(fails("stages:\n  - quantize: !!java.lang.Runtime {}\n").getMessage()).isNotEmpty();
    }

    @Test
    void builtInRecipesAllValidate() {
        for (String name : Recipes.BUILT_IN) {
            Recipe r = Recipes.builtIn(name);
            assertThat(r.name()).isEqualTo(name);
            assertThat(r.stages()).isNotEmpty();
        }
        ModelPressException e = catchThrowableOfType(ModelPressException.class, () -> Recipes.resolve("int9-magic"));
        assertThat(e.code()).isEqualTo(ErrorCode.BAD_ARGUMENT);
        assertThat(e.getMessage()).contains("int8-dynamic");
    }

    @Test
    void selectorsComeFromIncludeAndExclude() {
        Recipe r = RecipeParser.parse("stages:\n  - quantize:\n      mode: dynamic\n      include: { ops: [MatMul] }\n"
                + "      exclude: { nodes: [head], patterns: ['.*attention.*'] }\n", "s.yaml");
        var selector = r.stages().get(0).selector();
        var mm = io.modelpress.core.onnx.Nodes.node("MatMul", "layer0/ffn", java.util.List.of(), java.util.List.of());
        var head = io.modelpress.core.onnx.Nodes.node("MatMul", "head", java.util.List.of(), java.util.List.of());
        var attn = io.modelpress.core.onnx.Nodes.node("MatMul", "layer0/attention/q", java.util.List.of(), java.util.List.of());
        var gemm = io.modelpress.core.onnx.Nodes.node("Gemm", "fc", java.util.List.of(), java.util.List.of());
        assertThat(selector.selects(mm)).isTrue();
        assertThat(selector.selects(head)).isFalse();
        assertThat(selector.selects(attn)).isFalse();
        assertThat(selector.selects(gemm)).isFalse();
    }
}
