package io.modelpress.core.lowrank;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.recipe.StageSpec;

import java.util.OptionalDouble;

/**
 * How to factorize: exactly one of {@code rankRatio} (rank = round(rank_ratio x min(K, N)), at least 1) or
 * {@code energy} (the smallest rank keeping that fraction of the squared singular values).
 *
 * @param onlyWhereFewerMacs factorize only where the rank lowers MACs, r (K + N) &lt; K N; false is for checking the
 *                           factorization itself (at full rank the two MatMuls compute the original product)
 */
public record LowRankOptions(OptionalDouble rankRatio, OptionalDouble energy, NodeSelector selector, boolean onlyWhereFewerMacs) {
    public LowRankOptions {
        if (rankRatio.isPresent() == energy.isPresent()) {
            throw bad("give exactly one of rank_ratio and energy");
        }
        if (rankRatio.isPresent() && !(rankRatio.getAsDouble() > 0 && rankRatio.getAsDouble() <= 1)) {
            throw bad("rank_ratio must be above 0 and at most 1, found " + rankRatio.getAsDouble());
        }
        if (energy.isPresent() && !(energy.getAsDouble() > 0 && energy.getAsDouble() <= 1)) {
            throw bad("energy must be above 0 and at most 1, found " + energy.getAsDouble());
        }
        if (selector == null) {
            throw bad("selector is required");
        }
    }

    private static ModelPressException bad(String message) {
        return new ModelPressException(ErrorCode.BAD_ARGUMENT, "low-rank options", message);
    }

    public static LowRankOptions rankRatio(double ratio) {
        return new LowRankOptions(OptionalDouble.of(ratio), OptionalDouble.empty(), NodeSelector.ALL, true);
    }

    public static LowRankOptions energy(double fraction) {
        return new LowRankOptions(OptionalDouble.empty(), OptionalDouble.of(fraction), NodeSelector.ALL, true);
    }

    public LowRankOptions withSelector(NodeSelector newSelector) {
        return new LowRankOptions(rankRatio, energy, newSelector, onlyWhereFewerMacs);
    }

    public LowRankOptions withOnlyWhereFewerMacs(boolean only) {
        return new LowRankOptions(rankRatio, energy, selector, only);
    }

    /** Options from a recipe stage {@code lowrank}: {@code rank_ratio} or {@code energy}, {@code include}, {@code exclude}. */
    public static LowRankOptions from(StageSpec spec) {
        try {
            return new LowRankOptions(spec.has("rank_ratio") ? OptionalDouble.of(spec.number("rank_ratio")) : OptionalDouble.empty(),
                    spec.has("energy") ? OptionalDouble.of(spec.number("energy")) : OptionalDouble.empty(), spec.selector(), true);
        } catch (ModelPressException e) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, spec.label(), e.detail());
        }
    }

    String describe() {
        return rankRatio.isPresent() ? "rank_ratio " + rankRatio.getAsDouble() : "energy " + energy.getAsDouble();
    }
}
