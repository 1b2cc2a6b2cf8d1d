package io.modelpress.core.recipe;

import java.time.Duration;
import java.util.List;

/**
 * A validated recipe: the ordered stages to run and how to react when a quality gate fails.
 *
 * @param source the YAML text it was parsed from (kept so that a run can record exactly what it ran)
 */
public record Recipe(String name, List<StageSpec> stages, Tuning tuning, String source) {
    public record Tuning(String onGateFailure, int maxAttempts, Duration timeBudget) {
    }

    public Recipe {
        stages = List.copyOf(stages);
    }

    public List<StageSpec> stagesOfType(String type) {
        return stages.stream().filter(s -> s.type().equals(type)).toList();
    }
}
