package io.modelpress.core.tune;

import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.recipe.StageTypes;
import io.modelpress.core.recipe.TuningAxis;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The candidates of accuracy-aware tuning, in the order they are tried: the recipe's own first, then gentler ones
 * made from the stages' tuning axes ({@link StageTypes#tuningAxes}) by the recipe's strategy, at most
 * {@code max_attempts} in all. The list depends on the recipe alone, so the in-process compressor and the
 * orchestrator try the same candidates in the same order, and a restarted orchestrator finds them again by number.
 *
 * <ul>
 * <li>backoff: one step of one backoff axis at a time, stage by stage, axis by axis, each step gentler than the last;</li>
 * <li>fallback: the steps of the fallback axes (more of the most sensitive nodes left in float);</li>
 * <li>search: the grid over the first two axes of the recipe (each with the recipe's own setting and its steps),
 * nearest the recipe first; every candidate is run and the Pareto front of size against quality reported.</li>
 * </ul>
 * Backoff and fallback stop at the first candidate that passes its gate ({@link #stopsAtFirstPass}).
 */
public final class Candidates {
    public static final String BACKOFF = "backoff";
    public static final String FALLBACK = "fallback";
    public static final String SEARCH = "search";

    /**
     * @param number  1 for the recipe's own, then 2, 3, ...
     * @param stages  the stages to run, the recipe's with this candidate's changes
     * @param changes each change from the recipe as "label: what", e.g. "01-quantize: keep_float 0 -> 2 (...)"
     */
    public record Candidate(int number, List<StageSpec> stages, List<String> changes) {
        public Candidate {
            stages = List.copyOf(stages);
            changes = List.copyOf(changes);
        }

        /** The first stage whose settings differ from {@code other}'s (the stages before it give the same models). */
        public int firstDifference(Candidate other) {
            int n = Math.min(stages.size(), other.stages.size());
            for (int i = 0; i < n; i++) {
                if (!stages.get(i).equals(other.stages.get(i))) {
                    return i;
                }
            }
            return n;
        }
    }

    private Candidates() {
    }

    /** Whether the strategy ends tuning at the first candidate that passes (backoff, fallback) or runs them all (search). */
    public static boolean stopsAtFirstPass(String strategy) {
        return !SEARCH.equals(strategy);
    }

    /** The candidates of a recipe (its plan: the stages run), the recipe's own alone when it does not tune. */
    public static List<Candidate> of(Recipe plan, StageTypes types) {
        Recipe.Tuning tuning = plan.tuning();
        List<Candidate> candidates = new ArrayList<>();
        candidates.add(new Candidate(1, plan.stages(), List.of()));
        if (!tuning.tunes()) {
            return candidates;
        }
        List<Axis> axes = axes(plan, types, tuning.strategy());
        if (SEARCH.equals(tuning.strategy())) {
            grid(plan, axes.subList(0, Math.min(2, axes.size())), candidates);
        } else {
            for (Axis axis : axes) {
                for (TuningAxis.Step step : axis.axis().steps()) {
                    candidates.add(new Candidate(candidates.size() + 1, with(plan.stages(), axis.stage(), step),
                            List.of(change(plan.stages().get(axis.stage()), step))));
                }
            }
        }
        return List.copyOf(candidates.subList(0, Math.min(candidates.size(), tuning.maxAttempts())));
    }

    /** An axis of one stage of the plan. */
    private record Axis(int stage, TuningAxis axis) {
    }

    /** The axes a strategy draws on, stage by stage in recipe order: backoff's or fallback's kind; search, either. */
    private static List<Axis> axes(Recipe plan, StageTypes types, String strategy) {
        List<Axis> axes = new ArrayList<>();
        for (StageSpec stage : plan.stages()) {
            for (TuningAxis axis : types.tuningAxes(stage)) {
                boolean wanted = SEARCH.equals(strategy) || (axis.kind() == TuningAxis.Kind.FALLBACK) == FALLBACK.equals(strategy);
                if (wanted) {
                    axes.add(new Axis(stage.index(), axis));
                }
            }
        }
        return axes;
    }

    /** Every combination of the axes' settings but the recipe's own, the fewest steps from it first. */
    private static void grid(Recipe plan, List<Axis> axes, List<Candidate> candidates) {
        int a = axes.isEmpty() ? 0 : axes.get(0).axis().steps().size();
        int b = axes.size() < 2 ? 0 : axes.get(1).axis().steps().size();
        for (int distance = 1; distance <= a + b; distance++) {
            for (int i = Math.min(distance, a); i >= 0; i--) {
                int j = distance - i;
                if (j > b) {
                    continue;
                }
                List<StageSpec> stages = plan.stages();
                List<String> changes = new ArrayList<>();
                if (i > 0) {
                    TuningAxis.Step step = axes.get(0).axis().steps().get(i - 1);
                    changes.add(change(stages.get(axes.get(0).stage()), step));
                    stages = with(stages, axes.get(0).stage(), step);
                }
                if (j > 0) {
                    TuningAxis.Step step = axes.get(1).axis().steps().get(j - 1);
                    changes.add(change(stages.get(axes.get(1).stage()), step));
                    stages = with(stages, axes.get(1).stage(), step);
                }
                candidates.add(new Candidate(candidates.size() + 1, stages, changes));
            }
        }
    }

    private static List<StageSpec> with(List<StageSpec> stages, int index, TuningAxis.Step step) {
        List<StageSpec> changed = new ArrayList<>(stages);
        StageSpec spec = stages.get(index);
        Map<String, Object> params = new LinkedHashMap<>(spec.params());
        params.putAll(step.set());
        changed.set(index, new StageSpec(spec.index(), spec.type(), params));
        return changed;
    }

    private static String change(StageSpec stage, TuningAxis.Step step) {
        return stage.label() + ": " + step.text();
    }
}
