package io.modelpress.train.onnx;

import java.util.List;

/**
 * Runs one ONNX operator on DJL arrays. A handler reads its inputs and attributes from the {@link NodeContext},
 * computes with differentiable NDArray operations (never in place on its inputs, which may be trained weights), and
 * returns one value per output it computes, in output order (trailing optional outputs may be left off).
 */
@FunctionalInterface
public interface OperatorHandler {
    List<Value> apply(NodeContext node);
}
