package io.modelpress.core.recipe;

import java.time.Duration;
import java.util.List;

/**
 * A validated recipe: the ordered stages to run and how to react when a quality gate fails.
 *
 * @param cache  whether stage results may come from, and go to, the result cache (recipe key {@code cache}, default true)
 * @param source the YAML text it was parsed from (kept so that a run can record exactly what it ran)
 */
public record Recipe(String name, List<StageSpec> stages, Tuning tuning, boolean cache, String source) {
    /**
     * @param onGateFailure "fail" or "tune" ("backoff", the older spelling of tune with strategy backoff, is read as that)
     * @param strategy      "backoff", "fallback" or "search" (see io.modelpress.core.tune.Candidates)
     * @param maxAttempts   candidates in all when tuning, the recipe's own included
     */
    public record Tuning(String onGateFailure, String strategy, int maxAttempts, Duration timeBudget) {
        public static final String FAIL = "fail";
        public static final String TUNE = "tune";

        public Tuning {
            if ("backoff".equals(onGateFailure)) {
                onGateFailure = TUNE;
                strategy = "backoff";
            }
        }

        /** Whether a missed gate starts tuning rather than failing the run. */
        public boolean tunes() {
            return TUNE.equals(onGateFailure) && maxAttempts > 1;
        }
    }

    public Recipe {
        stages = List.copyOf(stages);
    }

    public List<StageSpec> stagesOfType(String type) {
        return stages.stream().filter(s -> s.type().equals(type)).toList();
    }
}
