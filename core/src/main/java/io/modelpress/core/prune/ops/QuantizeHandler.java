package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * QuantizeLinear / DequantizeLinear on an activation: per-tensor parameters let channels pass; per-axis parameters on
 * the pruned axis are cut with them.
 */
final class QuantizeHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        c.freeze(c.labels(1), c.describe() + " reads the channels as a scale");
        c.freeze(c.labels(2), c.describe() + " reads the channels as a zero point");
        if (l == null) {
            return;
        }
        long[] scale = c.inputDims(1);
        long[] in = c.inputDims(0);
        if (scale == null || in == null) {
            c.freeze(l, c.describe() + " has a scale of unknown shape");
            return;
        }
        if (scale.length == 0 || (scale.length == 1 && scale[0] == 1)) {
            c.output(0, l);
            return;
        }
        if (scale.length != 1 || Axes.normalize(c.intAttribute("axis", 1), in.length) != l.axis()) {
            c.freeze(l, c.describe() + " quantizes with parameters along another axis or in blocks");
            return;
        }
        for (int i = 1; i <= 2; i++) {
            if (c.has(i) && !c.cut(i, 0, l.ids(), Role.OTHER)) {
                return;
            }
        }
        c.output(0, l);
    }
}
