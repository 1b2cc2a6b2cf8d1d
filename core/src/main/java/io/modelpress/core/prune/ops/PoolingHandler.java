package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/** Pooling over the spatial axes (axis 2 on): channels on the batch or channel axis pass through. */
final class PoolingHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        if (l == null) {
            return;
        }
        if (l.axis() > 1) {
            c.freeze(l, c.describe() + " pools over the pruned axis");
            return;
        }
        if (c.outputCount() > 1 && !c.output(1).isEmpty() && !c.consumersOf(c.output(1)).isEmpty()) {
            c.freeze(l, c.describe() + " returns indices that encode channel positions");
            return;
        }
        c.output(0, l);
    }
}
