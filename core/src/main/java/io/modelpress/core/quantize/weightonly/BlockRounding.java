package io.modelpress.core.quantize.weightonly;

/**
 * How the codes, scales and zero points of a weight are chosen. Round-to-nearest ({@link RoundToNearest}) looks at
 * each block alone; methods that use calibration data or error feedback across a whole matrix (GPTQ, AWQ-style
 * search) implement this interface and are passed to {@link WeightOnlyQuantizer#quantize(io.modelpress.core.onnx.OnnxModel,
 * io.modelpress.core.recipe.StageSpec, BlockRounding)}.
 */
public interface BlockRounding {
    /**
     * @param weightName the weight's name in the model, for methods that look up per-weight statistics
     * @param values     {@code lines * lineLength} values, line after line; blocks run along each line
     */
    BlockQuantized quantize(String weightName, float[] values, int lines, int lineLength, BlockFormat format);

    /** A short name for reports, e.g. "rtn". */
    String name();
}
