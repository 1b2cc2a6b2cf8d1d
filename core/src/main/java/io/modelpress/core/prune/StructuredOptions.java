package io.modelpress.core.prune;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.prune.importance.Criteria;

import java.util.Locale;

/**
 * What structured pruning removes.
 *
 * @param ratio     fraction of each group's channels removed (0 keeps everything)
 * @param heads     fraction of attention heads removed; null: {@code ratio}
 * @param ffn       fraction of Gemm/MatMul neurons removed (a transformer's FFN neurons); null: {@code ratio}
 * @param criterion how channels are ranked: a name {@link Criteria} knows (l1, l2, bn_scale, activation, ...)
 * @param scope     {@code PER_LAYER}: each group loses its ratio; {@code GLOBAL}: the ratio is taken over all groups of
 *                  a kind together, so less important groups lose more
 * @param roundTo   kept widths are rounded to a multiple of this many channels (CPU kernels work in blocks of 16)
 * @param selector  which layers may change (include/exclude by name, op type or pattern)
 * @param samples   samples of calibration data the data-driven criteria (activation, taylor) look at
 */
public record StructuredOptions(double ratio, Double heads, Double ffn, String criterion, Scope scope, int roundTo,
                                NodeSelector selector, int samples) {

    public enum Scope {
        GLOBAL, PER_LAYER;

        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /** Parses a recipe value ("global", "per-layer"). */
        public static Scope parse(String value) {
            for (Scope s : values()) {
                if (s.label().equals(value)) {
                    return s;
                }
            }
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "scope", "must be global or per-layer; got '" + value + "'");
        }
    }

    /**
     * ONNX Runtime's convolution kernels work in blocks of 16 channels on AVX-512 CPUs (8 on AVX2): a width that is a
     * multiple of 8 but not 16 measured no faster than the unpruned model (docs/pruning.md).
     */
    public static final int DEFAULT_ROUND_TO = 16;
    public static final int DEFAULT_SAMPLES = 64;

    public StructuredOptions {
        checkRatio("ratio", ratio);
        if (heads != null) {
            checkRatio("heads", heads);
        }
        if (ffn != null) {
            checkRatio("ffn", ffn);
        }
        if (roundTo < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "round_to", "must be at least 1; got " + roundTo);
        }
        if (samples < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "samples", "must be at least 1; got " + samples);
        }
        if (criterion == null || scope == null || selector == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "structured pruning", "criterion, scope and selector must be given");
        }
        Criteria.get(criterion);
    }

    private static void checkRatio(String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, name, "must be a fraction in [0, 1); got " + value);
        }
    }

    /** Removes {@code ratio} of every group's channels by L1 magnitude, per layer, widths rounded to 16. */
    public static StructuredOptions ratio(double ratio) {
        return new StructuredOptions(ratio, null, null, "l1", Scope.PER_LAYER, DEFAULT_ROUND_TO, NodeSelector.ALL, DEFAULT_SAMPLES);
    }

    public StructuredOptions withHeads(Double value) {
        return new StructuredOptions(ratio, value, ffn, criterion, scope, roundTo, selector, samples);
    }

    public StructuredOptions withFfn(Double value) {
        return new StructuredOptions(ratio, heads, value, criterion, scope, roundTo, selector, samples);
    }

    public StructuredOptions withCriterion(String value) {
        return new StructuredOptions(ratio, heads, ffn, value, scope, roundTo, selector, samples);
    }

    public StructuredOptions withScope(Scope value) {
        return new StructuredOptions(ratio, heads, ffn, criterion, value, roundTo, selector, samples);
    }

    public StructuredOptions withRoundTo(int value) {
        return new StructuredOptions(ratio, heads, ffn, criterion, scope, value, selector, samples);
    }

    public StructuredOptions withSelector(NodeSelector value) {
        return new StructuredOptions(ratio, heads, ffn, criterion, scope, roundTo, value, samples);
    }

    public StructuredOptions withSamples(int value) {
        return new StructuredOptions(ratio, heads, ffn, criterion, scope, roundTo, selector, value);
    }
}
