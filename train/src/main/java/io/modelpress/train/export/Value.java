package io.modelpress.train.export;

import ai.djl.ndarray.types.Shape;

/**
 * A value of the graph being built: its ONNX name and the shape DJL gives it for the example batch. Dimension 0 is
 * the batch; the exported model declares it symbolic.
 */
public record Value(String name, Shape shape) {
}
