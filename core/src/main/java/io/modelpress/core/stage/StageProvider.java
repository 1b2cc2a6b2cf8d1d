package io.modelpress.core.stage;

import io.modelpress.core.recipe.Param;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.recipe.TuningAxis;

import java.util.List;

import java.util.Map;

/**
 * One stage type, found at run time by {@link java.util.ServiceLoader}: a module contributes a stage type by
 * implementing this in a public class with a public no-argument constructor and naming that class in its jar's
 * {@code META-INF/services/io.modelpress.core.stage.StageProvider}. Core's own stage types are {@link CoreStages};
 * {@link Stages} says where providers are looked for. Core never needs to know a contributed module.
 */
public interface StageProvider {
    /**
     * The name recipes, pipeline topics ({@code modelpress.stage.<type>}) and reports use for the stage: lower-case
     * letters, digits and dashes, starting with a letter. Unique among all providers found.
     */
    String type();

    /**
     * The recipe keys the stage accepts, by name, with their defaults: the recipe parser validates a stage against
     * them and fills in the defaults, and docs/recipes.md lists them. A key named {@code mode} (or {@code method}) with choices
     * is read first, and keys marked {@link Param#onlyIn} apply only in those modes.
     */
    Map<String, Param> parameters();

    /**
     * Rules that involve several keys (one of two keys required, n below m, ...), checked by the recipe parser once
     * every key is valid on its own: each problem as {@code "<key>: <what is wrong>"}, reported at that key's path.
     * None by default.
     */
    default List<String> problems(StageSpec spec) {
        return List.of();
    }

    /**
     * How the stage backs off when a candidate misses its quality gate and the recipe tunes ({@code tuning:
     * on_gate_failure: tune}): its axes for this spec, in the order they are tried. None by default: such a stage is
     * run as the recipe gives it in every candidate.
     */
    default List<TuningAxis> tuningAxes(StageSpec spec) {
        return List.of();
    }

    /** Makes the stage; called once per process, the first time a stage of this type runs. */
    Stage stage();
}
