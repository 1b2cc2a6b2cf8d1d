package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.quantize.QuantType;

/**
 * Per-tensor quantization parameters as QuantizeLinear applies them: q = clamp(round(x / scale) + zeroPoint).
 * The representable values are (q - zeroPoint) * scale for q in the type's range.
 */
public record QuantParams(float scale, int zeroPoint, QuantType type) {
    /**
     * The parameters covering a range. Asymmetric: the range (stretched to contain zero) maps onto the whole type, so
     * a range starting at 0 gets the type's lowest value as zero point, which makes a preceding ReLU redundant.
     * Symmetric: [-absMax, absMax] maps onto +-{@link QuantType#symmetricLimit()} around the middle zero point.
     */
    public static QuantParams of(Range range, QuantType type, boolean symmetric) {
        if (symmetric) {
            double absMax = range.absMax();
            float scale = absMax == 0 ? 1f : (float) (absMax / type.symmetricLimit());
            return new QuantParams(positive(scale), type.symmetricZeroPoint(), type);
        }
        Range r = range.withZero();
        double span = r.max() - r.min();
        float scale = span == 0 ? 1f : positive((float) (span / (type.max() - type.min())));
        long zeroPoint = Math.round(type.min() - r.min() / scale);
        return new QuantParams(scale, (int) Math.max(type.min(), Math.min(type.max(), zeroPoint)), type);
    }

    /** A scale that stays a normal positive float even for vanishing ranges. */
    private static float positive(float scale) {
        return Math.max(scale, Float.MIN_NORMAL);
    }

    /** Lowest representable value. */
    public double min() {
        return (type.min() - zeroPoint) * (double) scale;
    }

    /** Highest representable value. */
    public double max() {
        return (type.max() - zeroPoint) * (double) scale;
    }

    /** Expected squared error of quantizing values with this distribution. */
    public double meanSquaredError(Distribution values) {
        return values.meanSquaredError(scale, zeroPoint, type.min(), type.max());
    }
}
