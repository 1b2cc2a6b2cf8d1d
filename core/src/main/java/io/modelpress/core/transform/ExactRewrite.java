package io.modelpress.core.transform;

import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.graph.Passes;
import io.modelpress.core.onnx.OnnxModel;

import java.util.List;
import java.util.Locale;

/**
 * Rewrites that must not change what the model computes, kept only when ONNX Runtime agrees: the model runs before and
 * after on sample data, and every float output must match to {@link FloatEquivalence#TOLERANCE}. The rewrites are
 * exact by construction; the check guards against graph shapes their analysis did not foresee, and an optimisation
 * must never cost the user a model that works.
 */
public final class ExactRewrite {
    private ExactRewrite() {
    }

    /**
     * The rewrite, kept when the outputs on {@code check} are the same before and after; otherwise, or when it throws,
     * the model is restored and the pass's note says {@code undone} and why.
     */
    public static Pass<Pass.NoOptions> keepIfExact(Pass<?> rewrite, CalibrationData check, String undone) {
        return Passes.simple(rewrite.name(), model -> {
            OnnxModel before = model.copy();
            String why;
            try {
                PassResult result = rewrite.apply(model);
                double deviation = result.changedModel() ? FloatEquivalence.deviation(before, model, check) : 0;
                if (deviation <= FloatEquivalence.TOLERANCE) {
                    return result;
                }
                why = String.format(Locale.ROOT, "the rewritten model deviated by %.2g", deviation);
            } catch (RuntimeException e) {
                why = "the rewrite failed: " + e.getMessage();
            }
            model.proto().clear().mergeFrom(before.build());
            return PassResult.of(rewrite.name()).note(rewrite.name(), undone + ": " + why);
        });
    }

    /**
     * The rewrites in order, all kept or all undone: after the last, the float model must give the outputs it gave
     * before on {@code data}. The result holds every rewrite's notes and, under {@code name}, the check's verdict; its
     * changes are 0 when the rewrites were undone.
     *
     * @param withoutThem what undoing them means, for the note, e.g. "quantized without them"
     */
    public static Pass<Pass.NoOptions> allOrNothing(String name, List<Pass<?>> rewrites, CalibrationData data, String withoutThem) {
        return Passes.simple(name, model -> {
            OnnxModel original = model.copy();
            PassResult all = PassResult.of(name);
            for (Pass<?> rewrite : rewrites) {
                PassResult result = rewrite.apply(model);
                all.addChanges(result.changes());
                result.notes().forEach(all::note);
            }
            double deviation = FloatEquivalence.deviation(original, model, data);
            if (deviation > FloatEquivalence.TOLERANCE) {
                model.proto().clear().mergeFrom(original.build());
                PassResult undone = PassResult.of(name);
                all.notes().forEach(undone::note);
                return undone.note(name, String.format(Locale.ROOT, "undone: the rewritten float model deviated by %.2g "
                        + "(relative) from the original; %s", deviation, withoutThem));
            }
            return all.note(name, String.format(Locale.ROOT, "float model unchanged to %.1e (relative, checked on calibration data)", deviation));
        });
    }
}
