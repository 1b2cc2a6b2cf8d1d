package io.modelpress.core.transform;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.OnnxModel;

/**
 * Compression passes emit operators that older opsets lack (MatMulInteger arrived in opset 10, DynamicQuantizeLinear
 * in 11, per-channel DequantizeLinear in 13). A model below that is upgraded first ({@link OpsetUpgrade}: every operator
 * whose signature or meaning changed on the way is converted exactly), so users never have to convert it themselves.
 */
public final class OpsetRequirement implements Pass<OpsetRequirement.Options> {
    public static final String NAME = "opset";

    /**
     * @param minimum the default-domain opset needed
     * @param needs   what needs it, for the note and for the error when the upgrade is impossible
     * @param who     the pass that needs it, e.g. "dynamic quantization"
     */
    public record Options(long minimum, String needs, String who) {
    }

    private final Options options;

    public OpsetRequirement(long minimum, String needs, String who) {
        this.options = new Options(minimum, needs, who);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Options options() {
        return options;
    }

    /**
     * Upgrades the model's default-domain opset to the minimum when it is lower, and notes it.
     *
     * @throws ModelPressException UNSUPPORTED_OPSET naming the node that cannot be upgraded
     */
    @Override
    public PassResult apply(OnnxModel model) {
        long opset = model.opset("");
        if (opset >= options.minimum()) {
            return PassResult.of(NAME);
        }
        OpsetUpgrade.Result upgrade;
        try {
            upgrade = OpsetUpgrade.upgrade(model, options.minimum());
        } catch (ModelPressException e) {
            throw new ModelPressException(e.code(), e.location(), e.detail() + " (the model is at opset " + opset + "; "
                    + options.who() + " needs opset " + options.minimum() + " for " + options.needs() + ")", e);
        }
        return PassResult.changed(NAME, upgrade.rewrittenNodes(), "upgraded " + upgrade.fromOpset() + " -> " + upgrade.toOpset()
                + " (" + upgrade.rewrittenNodes() + " nodes rewritten) for " + options.needs());
    }
}
