package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Softmax, LogSoftmax, Hardmax: channels pass unless they lie on the normalized axes (before opset 13, all axes from
 * {@code axis} on; from 13, {@code axis} alone).
 */
final class SoftmaxHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        long[] dims = c.inputDims(0);
        if (l == null) {
            return;
        }
        if (dims == null) {
            c.freeze(l, c.describe() + " has an input of unknown shape");
            return;
        }
        boolean modern = c.opset() >= 13;
        int axis = Axes.normalize(c.intAttribute("axis", modern ? -1 : 1), dims.length);
        boolean normalized = modern ? l.axis() == axis : l.axis() >= axis;
        if (axis < 0 || normalized) {
            c.freeze(l, c.describe() + " normalizes over the pruned axis");
        } else {
            c.output(0, l);
        }
    }
}
