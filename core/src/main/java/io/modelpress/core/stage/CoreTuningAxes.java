package io.modelpress.core.stage;

import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.recipe.TuningAxis;
import io.modelpress.core.recipe.TuningAxis.Kind;
import io.modelpress.core.recipe.TuningAxis.Step;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The tuning axes of core's stage types ({@link StageProvider#tuningAxes}): what accuracy-aware tuning may change
 * when a candidate misses its gate, each axis ordered from the recipe's setting towards the gentlest. Backing off
 * trades size or speed for quality (lower ratio, higher bit width, a calibration that clips less); falling back
 * leaves the most sensitive nodes in float (the stage ranks them itself: {@code keep_float}).
 */
final class CoreTuningAxes {
    /** Fractions of a pruning or factorization ratio kept by the successive back-off steps. */
    private static final double[] MILDER = {0.75, 0.5, 0.25};
    /** Successive {@code keep_float} counts of the fallback axis. */
    private static final long[] KEEP_FLOAT = {1, 2, 4, 8, 16, 32};
    private static final double FULL_PERCENTILE = 99.999;

    private CoreTuningAxes() {
    }

    static List<TuningAxis> quantize(StageSpec spec) {
        List<TuningAxis> axes = new ArrayList<>();
        String mode = spec.string("mode");
        if (mode.equals("weight-only")) {
            String weights = spec.string("weights") == null ? "int4" : spec.string("weights");
            if (weights.endsWith("4")) {
                String wider = weights.replace('4', '8');
                axes.add(axis("weights", Kind.BACKOFF, step("weights", wider, "weights " + weights + " -> " + wider)));
            }
            List<Step> blocks = new ArrayList<>();
            for (long block = spec.integer("block_size") / 2; block >= 16; block /= 2) {
                blocks.add(step("block_size", block, "block_size " + spec.integer("block_size") + " -> " + block));
            }
            add(axes, "block_size", Kind.BACKOFF, blocks);
            return axes;
        }
        if (mode.equals("static")) {
            add(axes, "calibration", Kind.BACKOFF, calibrationSteps(spec));
        }
        if ("per-tensor".equals(spec.string("granularity"))) {
            axes.add(axis("granularity", Kind.BACKOFF, step("granularity", "per-channel", "granularity per-tensor -> per-channel")));
        }
        if (spec.numberOrOff("smoothquant").isEmpty()) {
            double alpha = mode.equals("dynamic") ? 0.8 : 0.5;
            axes.add(axis("smoothquant", Kind.BACKOFF, step("smoothquant", alpha, "smoothquant off -> " + alpha)));
        }
        List<Step> keep = new ArrayList<>();
        long kept = spec.has("keep_float") ? spec.integer("keep_float") : 0;
        for (long k : KEEP_FLOAT) {
            if (k > kept) {
                keep.add(step("keep_float", k, "keep_float " + kept + " -> " + k + " (the " + (k == 1 ? "most sensitive node stays"
                        : k + " most sensitive nodes stay") + " in float)"));
            }
        }
        add(axes, "keep_float", Kind.FALLBACK, keep);
        return axes;
    }

    /** A percentile that clips less first, then the other methods (each with its own defaults). */
    private static List<Step> calibrationSteps(StageSpec spec) {
        String method = spec.string("calibration");
        double percentile = spec.number("percentile");
        List<Step> steps = new ArrayList<>();
        if (method.equals("percentile") && percentile < FULL_PERCENTILE) {
            for (double p : new double[] {99.99, FULL_PERCENTILE}) {
                if (p > percentile) {
                    steps.add(step("percentile", p, "percentile " + number(percentile) + " -> " + number(p)));
                }
            }
        }
        for (String other : List.of("percentile", "entropy", "mse", "minmax")) {
            if (other.equals(method)) {
                continue;
            }
            Map<String, Object> set = new LinkedHashMap<>();
            set.put("calibration", other);
            if (other.equals("percentile")) {
                set.put("percentile", FULL_PERCENTILE);
            }
            steps.add(new Step(set, "calibration " + method + " -> " + other
                    + (other.equals("percentile") ? " " + number(FULL_PERCENTILE) : "")));
        }
        return steps;
    }

    static List<TuningAxis> prune(StageSpec spec) {
        List<TuningAxis> axes = new ArrayList<>();
        switch (spec.string("method")) {
            case "n:m" -> {
                List<Step> steps = new ArrayList<>();
                for (long n = spec.integer("n") + 1; n < spec.integer("m"); n++) {
                    steps.add(step("n", n, "n:m " + spec.integer("n") + ":" + spec.integer("m") + " -> " + n + ":" + spec.integer("m")));
                }
                add(axes, "n", Kind.BACKOFF, steps);
            }
            case "layers" -> {
                List<Step> steps = new ArrayList<>();
                if (spec.has("keep")) {
                    long keep = spec.integer("keep");
                    for (long k = keep + 1; k <= keep + 2; k++) {
                        steps.add(step("keep", k, "keep " + keep + " -> " + k + " blocks"));
                    }
                } else {
                    List<Long> drop = spec.integers("drop");
                    for (int n = drop.size() - 1; n >= 1; n--) {
                        steps.add(step("drop", List.copyOf(drop.subList(0, n)), "drop " + drop + " -> " + drop.subList(0, n)));
                    }
                }
                add(axes, "layers", Kind.BACKOFF, steps);
            }
            default -> {
                // magnitude, block and structured: every fraction removed scaled down together
                List<Step> steps = new ArrayList<>();
                for (double f : MILDER) {
                    Map<String, Object> set = new LinkedHashMap<>();
                    List<String> text = new ArrayList<>();
                    for (String key : List.of("ratio", "heads", "ffn")) {
                        if (spec.has(key) && spec.number(key) > 0) {
                            double milder = round(spec.number(key) * f);
                            set.put(key, milder);
                            text.add(key + " " + number(spec.number(key)) + " -> " + number(milder));
                        }
                    }
                    if (!set.isEmpty()) {
                        steps.add(new Step(set, String.join(", ", text)));
                    }
                }
                add(axes, "ratio", Kind.BACKOFF, steps);
            }
        }
        return axes;
    }

    static List<TuningAxis> lowRank(StageSpec spec) {
        String key = spec.has("rank_ratio") ? "rank_ratio" : "energy";
        if (!spec.has(key)) {
            return List.of();
        }
        double value = spec.number(key);
        List<Step> steps = new ArrayList<>();
        for (double f : MILDER) {
            // towards 1 (full rank, all the energy): the part given up shrinks
            double milder = round(1 - (1 - value) * f);
            if (milder > value && milder < 1) {
                steps.add(step(key, milder, key + " " + number(value) + " -> " + number(milder)));
            }
        }
        List<TuningAxis> axes = new ArrayList<>();
        add(axes, key, Kind.BACKOFF, steps);
        return axes;
    }

    private static void add(List<TuningAxis> axes, String name, Kind kind, List<Step> steps) {
        if (!steps.isEmpty()) {
            axes.add(new TuningAxis(name, kind, steps));
        }
    }

    private static TuningAxis axis(String name, Kind kind, Step step) {
        return new TuningAxis(name, kind, List.of(step));
    }

    private static Step step(String key, Object value, String text) {
        return new Step(Map.of(key, value), text);
    }

    private static double round(double value) {
        return Math.round(value * 1000) / 1000.0;
    }

    private static String number(double value) {
        return value == Math.rint(value) ? String.valueOf((long) value) : String.format(Locale.ROOT, "%s", round(value));
    }
}
