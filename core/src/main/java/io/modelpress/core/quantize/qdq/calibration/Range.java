package io.modelpress.core.quantize.qdq.calibration;

/** A calibrated activation range: values outside [min, max] are clipped by quantization. */
public record Range(double min, double max) {
    public Range {
        if (!(min <= max)) {
            throw new IllegalArgumentException("range [" + min + ", " + max + "] is empty");
        }
    }

    /** The same range stretched to contain zero, which quantization must represent exactly (padding, ReLU). */
    public Range withZero() {
        return new Range(Math.min(min, 0), Math.max(max, 0));
    }

    public double absMax() {
        return Math.max(Math.abs(min), Math.abs(max));
    }
}
