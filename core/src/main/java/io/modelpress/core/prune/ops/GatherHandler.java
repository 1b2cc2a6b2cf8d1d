package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Kind;
import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Gather: a constant 2-D table looked up along axis 0 is an embedding whose columns are new channels; channels of
 * the data on another axis than the gathered one pass through.
 */
final class GatherHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        long[] data = c.inputDims(0);
        long[] indices = c.inputDims(1);
        c.freeze(c.labels(1), c.describe() + " uses the channels as indices");
        Labels l = c.labels(0);
        if (data == null || indices == null) {
            c.freeze(l, c.describe() + " has operands of unknown shape");
            return;
        }
        int axis = Axes.normalize(c.intAttribute("axis", 0), data.length);
        if (l != null) {
            if (l.axis() == axis || axis < 0) {
                c.freeze(l, c.describe() + " picks positions along the pruned axis");
            } else {
                c.output(0, l.onAxis(l.axis() < axis ? l.axis() : l.axis() + indices.length - 1));
            }
            return;
        }
        if (c.isConstant(0) && data.length == 2 && axis == 0) {
            int[] ids = c.newChannels(0, indices.length, (int) data[1], Kind.EMBEDDING);
            c.cut(0, 1, ids, Role.OUT);
        }
    }
}
