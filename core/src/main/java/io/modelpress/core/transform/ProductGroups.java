package io.modelpress.core.transform;

import io.modelpress.core.onnx.OnnxModel;

import java.util.List;
import java.util.Map;

/**
 * The activations a per-channel rewrite (SmoothQuant, channel shift, outlier channels) may treat, each with the
 * positions of the MatMul/Gemm nodes that read it as their first input and hold a constant 2-D weight as their second.
 * The caller decides which: a quantizer names the products it is going to quantize. Asked of the model as it is when
 * the rewrite runs, since an earlier rewrite may have changed it.
 */
@FunctionalInterface
public interface ProductGroups {
    /** Activation -> positions of the products reading it, in graph order. */
    Map<String, List<Integer>> of(OnnxModel model);
}
