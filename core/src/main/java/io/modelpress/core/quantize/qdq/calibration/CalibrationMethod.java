package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.util.Locale;

/** How an activation's quantization range is chosen from its calibration histogram. */
public enum CalibrationMethod {
    /** The smallest and largest value seen: nothing is clipped, one outlier stretches the whole grid. */
    MINMAX,
    /** Cut a fixed share of the values off each tail (of |x| for symmetric ranges). */
    PERCENTILE,
    /** The range whose quantized distribution loses least information (KL divergence, as TensorRT calibrates). */
    ENTROPY,
    /** The range with the least expected squared quantization error (rounding plus clipping). */
    MSE;

    /** The recipe name: minmax, percentile, entropy, mse. */
    public String recipeName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CalibrationMethod fromRecipe(String name) {
        for (CalibrationMethod m : values()) {
            if (m.recipeName().equals(name)) {
                return m;
            }
        }
        throw new ModelPressException(ErrorCode.BAD_RECIPE, "calibration", "unknown method '" + name
                + "' (expected minmax, percentile, entropy or mse)");
    }
}
