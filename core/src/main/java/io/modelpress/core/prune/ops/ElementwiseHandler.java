package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Operators that combine inputs position by position with numpy broadcasting (Add, Mul, Where, PRelu, ...): the
 * channels of all inputs on the aligned axis are coupled (a residual Add couples its branches' producers), constants
 * of that width are cut with them, inputs of width 1 broadcast, and an activation that cannot shrink freezes them.
 */
final class ElementwiseHandler implements OpHandler {
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
        int ro = out.length;
        Labels first = null;
        int axis = -1;
        for (int i = 0; i < c.inputCount(); i++) {
            Labels l = c.labels(i);
            if (l == null) {
                continue;
            }
            long[] d = c.inputDims(i);
            if (d == null) {
                c.freezeInputs(c.describe() + " has an input of unknown shape");
                return;
            }
            int o = l.axis() + ro - d.length;
            if (first == null) {
                first = l;
                axis = o;
            } else if (o != axis) {
                c.freezeInputs(c.describe() + " combines channels on different axes");
                return;
            }
            if (l.size() != out[o]) {
                c.freezeInputs(c.describe() + " broadcasts the channels");
                return;
            }
        }
        for (int i = 0; i < c.inputCount(); i++) {
            if (!c.has(i)) {
                continue;
            }
            Labels l = c.labels(i);
            if (l == first) {
                continue;
            }
            long[] d = c.inputDims(i);
            if (d == null) {
                c.freeze(first, c.describe() + " has an input of unknown shape");
                return;
            }
            int inputAxis = axis - (ro - d.length);
            if (inputAxis < 0 || d[inputAxis] == 1) {
                continue;
            }
            if (l != null) {
                c.couple(first.ids(), l.ids(), c.describe() + " combines the channels with positions that cannot go");
            } else if (c.isConstant(i)) {
                c.cut(i, inputAxis, first.ids(), Role.OTHER);
            } else {
                c.freeze(first, c.describe() + " combines the channels with '" + c.input(i) + "', which cannot shrink");
                return;
            }
        }
        for (int o = 0; o < c.outputCount(); o++) {
            c.output(o, new Labels(axis, first.ids()));
        }
    }
}
