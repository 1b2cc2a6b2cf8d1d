package io.modelpress.core.quantize.dynamic;

/**
 * A weight stored as integers: the names of its value, scale and (optional) zero-point initializers, and the scales
 * themselves for the report.
 *
 * @param zeroPoint null when every zero point is 0 (the ONNX default), so none is stored
 */
record QuantizedWeight(String values, String scale, String zeroPoint, float[] scales, String scheme) {
}
