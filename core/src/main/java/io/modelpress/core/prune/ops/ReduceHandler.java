package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Set;

/** Reductions (Reduce*, ArgMax/ArgMin): channels pass when the pruned axis is not reduced, shifted when axes drop. */
final class ReduceHandler implements OpHandler {
    /** Reductions whose axes moved from an attribute to an input at opset 18 (ReduceSum moved at 13). */
    private static final Set<String> AXES_INPUT_AT_18 = Set.of("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
            "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare");

    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        for (int i = 1; i < c.inputCount(); i++) {
            c.freeze(c.labels(i), c.describe() + " reads the channels as axes");
        }
        if (l == null) {
            return;
        }
        long[] dims = c.inputDims(0);
        if (dims == null) {
            c.freeze(l, c.describe() + " has an input of unknown shape");
            return;
        }
        int rank = dims.length;
        boolean keepDims = c.intAttribute("keepdims", 1) != 0;
        long[] axes;
        String op = c.opType();
        if (op.equals("ArgMax") || op.equals("ArgMin")) {
            axes = new long[] {c.intAttribute("axis", 0)};
        } else if ((op.equals("ReduceSum") && c.opset() >= 13) || (AXES_INPUT_AT_18.contains(op) && c.opset() >= 18)) {
            if (c.has(1) && c.longs(1) == null) {
                c.freeze(l, c.describe() + " reduces over axes computed at run time");
                return;
            }
            axes = c.has(1) ? c.longs(1) : new long[0];
        } else {
            axes = c.intsAttribute("axes").orElse(new long[0]);
        }
        if (axes.length == 0) {
            if (c.intAttribute("noop_with_empty_axes", 0) != 0) {
                c.output(0, l);
            } else {
                c.freeze(l, c.describe() + " reduces over all axes, the pruned one included");
            }
            return;
        }
        int before = 0;
        for (long a : axes) {
            int axis = Axes.normalize(a, rank);
            if (axis == l.axis() || axis < 0) {
                c.freeze(l, c.describe() + " reduces over the pruned axis");
                return;
            }
            if (axis < l.axis()) {
                before++;
            }
        }
        c.output(0, l.onAxis(keepDims ? l.axis() : l.axis() - before));
    }
}
