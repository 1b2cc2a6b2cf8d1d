package io.modelpress.core.prune;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.util.List;

/**
 * Depth pruning: which of the model's repeated blocks (transformer layers, residual blocks) go. Exactly one of
 * {@code drop} (block indices, counted from 0 in graph order over all runs of repeated blocks) and {@code keep} (how
 * many blocks stay) is given.
 *
 * @param samples samples of calibration data used to choose the blocks {@code keep} drops
 */
public record LayerOptions(List<Integer> drop, Integer keep, int samples) {
    public LayerOptions {
        if (samples < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "samples", "must be at least 1; got " + samples);
        }
        if ((drop == null) == (keep == null)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "layers", "give either drop: [indices] or keep: N, not " + (drop == null ? "neither" : "both"));
        }
        if (drop != null) {
            drop = List.copyOf(drop);
            if (drop.isEmpty() || drop.stream().anyMatch(i -> i < 0) || drop.stream().distinct().count() != drop.size()) {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "drop", "must list distinct block indices >= 0; got " + drop);
            }
        }
        if (keep != null && keep < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "keep", "must be at least 1; got " + keep);
        }
    }

    public static LayerOptions drop(List<Integer> indices) {
        return new LayerOptions(indices, null, StructuredOptions.DEFAULT_SAMPLES);
    }

    public static LayerOptions keep(int blocks) {
        return new LayerOptions(null, blocks, StructuredOptions.DEFAULT_SAMPLES);
    }

    public LayerOptions withSamples(int value) {
        return new LayerOptions(drop, keep, value);
    }
}
