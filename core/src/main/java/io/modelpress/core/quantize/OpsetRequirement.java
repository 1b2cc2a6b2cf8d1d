package io.modelpress.core.quantize;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.transform.OpsetUpgrade;

/**
 * Quantization passes emit operators that older opsets lack (MatMulInteger arrived in opset 10, DynamicQuantizeLinear
 * in 11, per-channel DequantizeLinear in 13). A model below that is upgraded first ({@link OpsetUpgrade}: every operator
 * whose signature or meaning changed on the way is converted exactly), so users never have to convert it themselves.
 */
public final class OpsetRequirement {
    private OpsetRequirement() {
    }

    /**
     * Upgrades the model's default-domain opset to {@code minimum} when it is lower, and notes it in the report.
     *
     * @param needs what needs that opset, for the note and for the error when the upgrade is impossible
     * @throws ModelPressException UNSUPPORTED_OPSET naming the node that cannot be upgraded
     */
    public static void ensure(OnnxModel model, long minimum, String needs, QuantizationReport report) {
        long opset = model.opset("");
        if (opset >= minimum) {
            return;
        }
        OpsetUpgrade.Result upgrade;
        try {
            upgrade = OpsetUpgrade.upgrade(model, minimum);
        } catch (ModelPressException e) {
            throw new ModelPressException(e.code(), e.location(), e.detail() + " (the model is at opset " + opset + "; "
                    + report.mode() + " quantization needs opset " + minimum + " for " + needs + ")", e);
        }
        report.note("opset", "upgraded " + upgrade.fromOpset() + " -> " + upgrade.toOpset() + " (" + upgrade.rewrittenNodes()
                + " nodes rewritten) for " + needs);
    }
}
