package io.modelpress.core.quantize.dynamic;

import io.modelpress.core.transform.SmoothQuant;

import io.modelpress.core.transform.SequenceMajorLayout;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.quantize.QuantType;
import io.modelpress.core.recipe.StageSpec;

import java.util.OptionalDouble;

/**
 * What the dynamic quantizer does, read from a recipe's {@code quantize: { mode: dynamic }} stage.
 *
 * @param weightType        integer type of MatMul/Gemm weights (int8 or uint8; activations are always uint8,
 *                          which is all DynamicQuantizeLinear produces)
 * @param perChannel        one weight scale per output column rather than one per tensor
 * @param symmetricWeights  zero point in the middle of the weight range
 * @param embeddings        also store Gather tables (embeddings) as 8 bit, dequantized after the Gather
 * @param smoothQuantAlpha  SmoothQuant migration strength; empty when off. Needs calibration data
 * @param outlierChannels   at most this many outlier input channels per MatMul computed in float on a side path;
 *                          0 when off. Needs calibration data
 * @param keepFloat         leave this many of the most sensitive MatMul/Gemm nodes in float. Needs calibration data
 * @param calibrationSamples samples of the calibration data to use
 * @param mergeSiblings     merge MatMuls that read the same activation (Q, K, V) into one integer kernel
 * @param sequenceMajor     store token activations sequence-major ({@link SequenceMajorLayout})
 */
public record DynamicOptions(QuantType weightType, boolean perChannel, boolean symmetricWeights, boolean embeddings,
                             OptionalDouble smoothQuantAlpha, int outlierChannels, int keepFloat, int calibrationSamples,
                             boolean mergeSiblings, boolean sequenceMajor, NodeSelector selector) {

    /**
     * Defaults of the built-in int8-dynamic recipe. Merged Q/K/V kernels and outlier side paths are off: on
     * all-MiniLM-L6-v2 with ONNX Runtime 1.26 on CPU, the Split after a merged kernel copies more than the merge saves
     * at 32x128 tokens (about 3 % slower), and a side path adds about five small kernels per activation, which costs
     * more at small inputs than the fidelity it buys (cosine 0.99785 vs 0.99754 without it). bench/ measures both.
     * The sequence-major layout is on: 4-6 % faster at batch 1 with one thread, about even at larger batches
     * (docs/recipes.md has the table).
     */
    public static final DynamicOptions DEFAULT = new DynamicOptions(QuantType.INT8, true, true, true,
            OptionalDouble.of(0.8), 0, 0, 256, false, true, NodeSelector.ALL);

    public static DynamicOptions from(StageSpec spec) {
        if (!"quantize".equals(spec.type()) || !"dynamic".equals(spec.string("mode"))) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, "stage " + spec.label(),
                    "is not a 'quantize: { mode: dynamic }' stage");
        }
        String weights = spec.has("weights") ? spec.string("weights") : "int8";
        QuantType type = switch (weights) {
            case "int8", "int8-per-channel", "int8-per-tensor" -> QuantType.INT8;
            case "uint8" -> QuantType.UINT8;
            default -> throw new ModelPressException(ErrorCode.BAD_RECIPE, "stage " + spec.label() + ".weights",
                    "'" + weights + "' is not available in mode dynamic (ONNX's integer MatMul takes 8-bit weights); "
                            + "use int8 or uint8, or mode weight-only for 4-bit weights");
        };
        boolean perChannel = !"per-tensor".equals(spec.has("granularity") ? spec.string("granularity") : "per-channel")
                && !"int8-per-tensor".equals(weights);
        return new DynamicOptions(type, perChannel,
                !spec.has("symmetric_weights") || spec.bool("symmetric_weights"),
                !spec.has("embeddings") || spec.bool("embeddings"),
                spec.has("smoothquant") ? spec.numberOrOff("smoothquant") : DEFAULT.smoothQuantAlpha,
                spec.has("outlier_channels") ? (int) spec.integer("outlier_channels") : DEFAULT.outlierChannels,
                spec.has("keep_float") ? (int) spec.integer("keep_float") : 0,
                spec.has("calibration_samples") ? (int) spec.integer("calibration_samples") : DEFAULT.calibrationSamples,
                spec.has("merge_siblings") ? spec.bool("merge_siblings") : DEFAULT.mergeSiblings,
                spec.has("sequence_major") ? spec.bool("sequence_major") : DEFAULT.sequenceMajor, spec.selector());
    }

    public DynamicOptions withSmoothQuant(OptionalDouble alpha) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, alpha, outlierChannels, keepFloat,
                calibrationSamples, mergeSiblings, sequenceMajor, selector);
    }

    public DynamicOptions withOutlierChannels(int channels) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, smoothQuantAlpha, channels, keepFloat,
                calibrationSamples, mergeSiblings, sequenceMajor, selector);
    }

    public DynamicOptions withKeepFloat(int nodes) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, smoothQuantAlpha, outlierChannels, nodes,
                calibrationSamples, mergeSiblings, sequenceMajor, selector);
    }

    public DynamicOptions withMergeSiblings(boolean merge) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, smoothQuantAlpha, outlierChannels, keepFloat,
                calibrationSamples, merge, sequenceMajor, selector);
    }

    public DynamicOptions withCalibrationSamples(int samples) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, smoothQuantAlpha, outlierChannels, keepFloat,
                samples, mergeSiblings, sequenceMajor, selector);
    }

    public DynamicOptions withSequenceMajor(boolean sequenceMajorLayout) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, smoothQuantAlpha, outlierChannels, keepFloat,
                calibrationSamples, mergeSiblings, sequenceMajorLayout, selector);
    }

    DynamicOptions withEmbeddingsOff() {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, false, smoothQuantAlpha, outlierChannels, keepFloat,
                calibrationSamples, mergeSiblings, sequenceMajor, selector);
    }

    public DynamicOptions withSelector(NodeSelector newSelector) {
        return new DynamicOptions(weightType, perChannel, symmetricWeights, embeddings, smoothQuantAlpha, outlierChannels, keepFloat,
                calibrationSamples, mergeSiblings, sequenceMajor, newSelector);
    }

    /** True when some step needs activation statistics from calibration data. */
    public boolean wantsCalibration() {
        return smoothQuantAlpha.isPresent() || outlierChannels > 0 || keepFloat > 0;
    }
}
