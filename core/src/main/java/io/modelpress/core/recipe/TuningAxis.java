package io.modelpress.core.recipe;

import java.util.List;
import java.util.Map;

/**
 * One way a stage can be made gentler when a candidate misses its quality gate (accuracy-aware tuning, see
 * {@code io.modelpress.core.tune.Candidates}): the steps to try, in order from the recipe's own settings towards the
 * gentlest. A stage type declares its axes ({@code StageProvider.tuningAxes}; {@link StageTypes#tuningAxes}).
 *
 * @param name  what the axis changes, e.g. "ratio" or "keep_float"
 * @param kind  {@link Kind#BACKOFF}: milder settings of the whole stage; {@link Kind#FALLBACK}: the most sensitive
 *              nodes or groups left as they were
 * @param steps each a set of recipe keys to change (a step may change several: a calibration method and its
 *              percentile), gentlest last
 */
public record TuningAxis(String name, Kind kind, List<Step> steps) {
    public enum Kind { BACKOFF, FALLBACK }

    /**
     * @param set  the recipe keys and their new values (validated values: String, Long, Double, Boolean)
     * @param text the change in words, e.g. "ratio 0.5 -> 0.375"
     */
    public record Step(Map<String, Object> set, String text) {
        public Step {
            set = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(set));
        }
    }

    public TuningAxis {
        steps = List.copyOf(steps);
    }
}
