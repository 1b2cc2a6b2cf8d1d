package io.modelpress.core.recipe;

import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * The stage types a recipe may name and the keys of each: what the parser and the recipe docs need of the stage
 * registry ({@code core.stage.StageRegistry} implements it). This process's set is found through
 * {@link ServiceLoader}, so that {@code recipe} does not import {@code stage}, which builds on recipes (no package
 * cycle; see ArchitectureTest).
 */
public interface StageTypes {
    /** The stage types, in the order found. */
    Set<String> types();

    boolean has(String type);

    /** The recipe keys of a stage type. */
    Map<String, Param> parameters(String type);

    /**
     * What the type finds wrong across the keys of a parsed stage, each as "key: message" (e.g. two keys that exclude
     * each other); checked once every key on its own is valid.
     */
    List<String> problems(StageSpec spec);

    /** How a parsed stage can be made gentler by accuracy-aware tuning, in the order its axes are tried. */
    List<TuningAxis> tuningAxes(StageSpec spec);

    /** The stage types of this process: core's and those contributed by other modules ({@code core.stage.Stages}). */
    static StageTypes ofThisProcess() {
        return ServiceLoader.load(StageTypes.class, StageTypes.class.getClassLoader()).findFirst()
                .orElseThrow(() -> new IllegalStateException("no " + StageTypes.class.getName() + " in META-INF/services"));
    }
}
