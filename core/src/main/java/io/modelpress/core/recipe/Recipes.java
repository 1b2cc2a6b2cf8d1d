package io.modelpress.core.recipe;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Finds a recipe by file path or by built-in name (int8-dynamic, int8-static, int4-weight-only, fp16). */
public final class Recipes {
    public static final List<String> BUILT_IN = List.of("int8-dynamic", "int8-static", "int4-weight-only", "fp16");
    /** What a model gets when nobody says otherwise (see BLUEPRINT: dynamic int8 + eval). */
    public static final String DEFAULT = "int8-dynamic";

    private Recipes() {
    }

    public static Recipe resolve(String nameOrPath) {
        Path path = Path.of(nameOrPath);
        if (Files.isRegularFile(path)) {
            return RecipeParser.parse(path);
        }
        if (BUILT_IN.contains(nameOrPath)) {
            return builtIn(nameOrPath);
        }
        throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "recipe '" + nameOrPath + "'",
                "is neither a file nor a built-in recipe; built-in recipes: " + String.join(", ", BUILT_IN));
    }

    /** An eval stage with default parameters, appended when a recipe has none. */
    public static StageSpec finalEvaluation(int index) {
        StageSpec defaults = RecipeParser.parse("stages:\n  - eval: {}\n", "final-evaluation").stages().get(0);
        return new StageSpec(index, "eval", defaults.params());
    }

    /**
     * The stages a run executes: the recipe's own, with a final evaluation appended when it has no eval stage, so that
     * every run's report compares its output with its input. The in-process compressor and the pipeline both run this.
     */
    public static Recipe withFinalEvaluation(Recipe recipe) {
        if (recipe.stages().stream().anyMatch(stage -> stage.type().equals("eval"))) {
            return recipe;
        }
        List<StageSpec> stages = new java.util.ArrayList<>(recipe.stages());
        stages.add(finalEvaluation(stages.size()));
        return new Recipe(recipe.name(), stages, recipe.tuning(), recipe.cache(), recipe.source());
    }

    public static Recipe builtIn(String name) {
        return RecipeParser.parse(builtInText(name), name + ".yaml");
    }

    public static String builtInText(String name) {
        try (InputStream in = Recipes.class.getResourceAsStream("/recipes/" + name + ".yaml")) {
            if (in == null) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "recipe '" + name + "'",
                        "is not a built-in recipe; built-in recipes: " + String.join(", ", BUILT_IN));
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.INTERNAL, "recipe '" + name + "'", e.getMessage(), e);
        }
    }
}
