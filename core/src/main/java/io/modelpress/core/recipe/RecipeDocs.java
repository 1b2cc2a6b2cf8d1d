package io.modelpress.core.recipe;

import io.modelpress.core.stage.StageRegistry;
import io.modelpress.core.stage.Stages;

import java.util.Map;
import java.util.stream.Collectors;

/**
 * The recipe reference tables of docs/recipes.md, generated from the keys of the stage types found ({@link Stages}:
 * core's alone when run from core) and {@link RecipeSchema#TUNING}, so the docs cannot drift from what the parser
 * accepts (a test compares them). Run {@code main} to print them; with a contributed module on the class path or
 * {@value Stages#PATH_VARIABLE}, its stage types are listed too.
 */
public final class RecipeDocs {
    private RecipeDocs() {
    }

    public static String tables() {
        return tables(Stages.registry());
    }

    public static String tables(StageRegistry stageTypes) {
        StringBuilder out = new StringBuilder();
        for (String stage : stageTypes.types()) {
            out.append("### `").append(stage).append("`\n\n");
            out.append(table(stageTypes.parameters(stage), true));
        }
        out.append("### `tuning`\n\n").append(table(RecipeSchema.TUNING, false));
        return out.toString();
    }

    private static String table(Map<String, Param> params, boolean withModes) {
        StringBuilder out = new StringBuilder(withModes ? "| key | accepts | default | modes | meaning |\n|---|---|---|---|---|\n"
                : "| key | accepts | default | meaning |\n|---|---|---|---|\n");
        for (Param p : params.values()) {
            out.append("| `").append(p.name()).append("` | ").append(p.expected().replace("|", "\\|")).append(" | ")
                    .append(p.defaultValue() == null ? "-" : "`" + p.defaultValue() + "`")
                    .append(p.modeDefaults().entrySet().stream().map(e -> " (" + e.getKey() + ": `" + e.getValue() + "`)")
                            .collect(Collectors.joining())).append(" | ");
            if (withModes) {
                out.append(p.modes().isEmpty() ? "all" : p.modes().stream().sorted().collect(Collectors.joining(", "))).append(" | ");
            }
            out.append(p.description().replace("|", "\\|"));
            if (p.kind() == Param.Kind.OBJECT) {
                out.append(": ").append(p.fields().values().stream().map(f -> "`" + f.name() + "` (" + f.description() + ")")
                        .collect(Collectors.joining(", ")));
            }
            out.append(" |\n");
        }
        return out.append('\n').toString();
    }

    public static void main(String[] args) {
        System.out.print(tables());
    }
}
