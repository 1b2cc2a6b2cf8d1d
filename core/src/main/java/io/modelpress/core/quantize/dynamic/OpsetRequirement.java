package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;

import java.util.Set;
import java.util.TreeSet;

/**
 * DynamicQuantizeLinear and MatMulInteger exist from opset 10. An older model is raised to 10 only when none of its
 * operators changed signature or meaning on the way (then the raise is a relabelling); otherwise the pass fails and
 * names the operators, so the user can convert the model first.
 */
final class OpsetRequirement {
    static final long MIN_OPSET = 10;

    /** Operators whose opset 7-9 form is not valid, or means something else, at opset 10. */
    private static final Set<String> CHANGED_BY_10 = Set.of(
            "Upsample",            // 9: scales became an input; 10: deprecated
            "Scan",                // 9: batch axis removed
            "BatchNormalization",  // 9: attribute 'spatial' removed
            "Slice",               // 10: starts/ends/axes became inputs
            "TopK",                // 10: k became an input
            "Dropout");            // 10: mask output became bool

    private OpsetRequirement() {
    }

    static void ensure(OnnxModel model, QuantizationReport report) {
        long opset = model.opset("");
        if (opset >= MIN_OPSET) {
            return;
        }
        Set<String> changed = new TreeSet<>();
        Graphs.forEachGraph(model.graph().build(), (path, g) -> {
            for (NodeProto n : g.getNodeList()) {
                if (ModelValidator.isDefaultDomain(n.getDomain()) && CHANGED_BY_10.contains(n.getOpType())) {
                    changed.add(n.getOpType());
                }
            }
        });
        if (!changed.isEmpty()) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "model",
                    "dynamic int8 needs opset >= " + MIN_OPSET + " (DynamicQuantizeLinear, MatMulInteger); this model has opset "
                            + opset + " and uses " + String.join(", ", changed) + ", whose definition changed by opset " + MIN_OPSET
                            + ". Convert the model to opset " + MIN_OPSET + " or newer first");
        }
        model.setOpset("", MIN_OPSET);
        report.note("opset", "raised " + opset + " -> " + MIN_OPSET + " (none of the model's operators changed meaning)");
    }
}
