package io.modelpress.core.quantize.qdq;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.quantize.QuantType;
import io.modelpress.core.quantize.qdq.calibration.CalibrationMethod;
import io.modelpress.core.recipe.StageSpec;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The recipe keys of a static quantize stage, checked and typed.
 *
 * @param perChannel         one weight scale per output channel (always symmetric: ONNX Runtime's QLinearConv takes
 *                           one zero point for all channels)
 * @param symmetricWeights   for per-tensor weights: zero point mid-range
 * @param percentile         for {@link CalibrationMethod#PERCENTILE}
 * @param smoothQuant        SmoothQuant alpha for MatMul/Gemm inputs, or empty
 * @param keepFloat          how many of the most sensitive Conv/MatMul/Gemm nodes stay in float
 * @param embeddings         also store Gather tables (embeddings) as 8 bit, dequantized after the lookup
 */
public record StaticSettings(QuantType weights, boolean perChannel, boolean symmetricWeights, QuantType activations,
                             boolean symmetricActivations, CalibrationMethod calibration, double percentile,
                             int calibrationSamples, boolean foldBatchNorm, OptionalDouble smoothQuant, int keepFloat,
                             boolean embeddings, NodeSelector selector) {

    public static StaticSettings of(StageSpec spec) {
        String where = spec.label();
        QuantType weights = eightBit(spec.has("weights") ? spec.string("weights") : "int8", where + ".weights");
        QuantType activations = eightBit(spec.has("activations") ? spec.string("activations") : "uint8", where + ".activations");
        return new StaticSettings(weights,
                !spec.has("granularity") || "per-channel".equals(spec.string("granularity")),
                !spec.has("symmetric_weights") || spec.bool("symmetric_weights"),
                activations,
                spec.has("symmetric_activations") && spec.bool("symmetric_activations"),
                CalibrationMethod.fromRecipe(spec.has("calibration") ? spec.string("calibration") : "percentile"),
                spec.has("percentile") ? spec.number("percentile") : 99.999,
                (int) Math.min(Integer.MAX_VALUE, spec.has("calibration_samples") ? spec.integer("calibration_samples") : 256),
                !spec.has("fold_batchnorm") || spec.bool("fold_batchnorm"),
                spec.numberOrOff("smoothquant"),
                (int) (spec.has("keep_float") ? spec.integer("keep_float") : 0),
                !spec.has("embeddings") || spec.bool("embeddings"),
                spec.selector());
    }

    private static QuantType eightBit(String name, String where) {
        return switch (name) {
            case "int8" -> QuantType.INT8;
            case "uint8" -> QuantType.UINT8;
            default -> throw new ModelPressException(ErrorCode.BAD_RECIPE, where, "static quantization supports int8 or uint8, not "
                    + name.toLowerCase(Locale.ROOT));
        };
    }

    /** Weights are symmetric when per-channel (see {@link #perChannel}) or when the recipe asks for it. */
    public boolean weightsSymmetric() {
        return perChannel || symmetricWeights;
    }

    /** e.g. "int8 per-channel symmetric weights, uint8 asymmetric activations (percentile 99.999)". */
    public String describe() {
        String method = calibration == CalibrationMethod.PERCENTILE
                ? "percentile " + stripZeros(percentile) : calibration.recipeName();
        return name(weights) + (perChannel ? " per-channel" : " per-tensor") + (weightsSymmetric() ? " symmetric" : " asymmetric")
                + " weights, " + name(activations) + (symmetricActivations ? " symmetric" : " asymmetric") + " activations ("
                + method + ")";
    }

    private static String name(QuantType type) {
        return type.name().toLowerCase(Locale.ROOT);
    }

    private static String stripZeros(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
