package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Arrays;

/**
 * Concat: along the concatenation axis, the output carries each input's channels at its offset (inputs without
 * channels hold positions that stay), so offsets follow whatever each input loses. On any other axis the inputs are
 * aligned position by position and coupled.
 */
final class ConcatHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        if (!c.anyInputLabeled()) {
            return;
        }
        long[] out = c.outputDims(0);
        if (out == null) {
            c.freezeInputs(c.describe() + " has an output of unknown shape");
            return;
        }
        int axis = Axes.normalize(c.intAttribute("axis", 0), out.length);
        int labeledAxis = -1;
        for (int i = 0; i < c.inputCount(); i++) {
            Labels l = c.labels(i);
            if (l != null) {
                if (labeledAxis >= 0 && l.axis() != labeledAxis) {
                    c.freezeInputs(c.describe() + " joins channels on different axes");
                    return;
                }
                labeledAxis = l.axis();
            }
        }
        if (labeledAxis == axis) {
            int[] ids = new int[0];
            for (int i = 0; i < c.inputCount(); i++) {
                Labels l = c.labels(i);
                long[] d = c.inputDims(i);
                if (d == null) {
                    c.freezeInputs(c.describe() + " has an input of unknown shape");
                    return;
                }
                int[] part = l != null ? l.ids() : Labels.none((int) d[axis]);
                int start = ids.length;
                ids = Arrays.copyOf(ids, start + part.length);
                System.arraycopy(part, 0, ids, start, part.length);
            }
            c.output(0, new Labels(axis, ids));
            return;
        }
        Labels first = null;
        for (int i = 0; i < c.inputCount(); i++) {
            Labels l = c.labels(i);
            if (first == null) {
                first = l;
            }
        }
        for (int i = 0; i < c.inputCount(); i++) {
            Labels l = c.labels(i);
            if (l == first) {
                continue;
            }
            if (l != null) {
                c.couple(first.ids(), l.ids(), c.describe() + " joins the channels with positions that cannot go");
            } else if (c.isConstant(i)) {
                c.cut(i, labeledAxis, first.ids(), Role.OTHER);
            } else {
                c.freeze(first, c.describe() + " joins the channels with '" + c.input(i) + "', which cannot shrink");
                return;
            }
        }
        c.output(0, first);
    }
}
