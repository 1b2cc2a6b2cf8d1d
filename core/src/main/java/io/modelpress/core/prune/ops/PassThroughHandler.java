package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Operators that keep their first input's layout and treat channels independently (activations, Identity, Cast,
 * Dropout, Clip with scalar bounds): every output carries the first input's channels. Other inputs are scalars or
 * types; channels arriving there are frozen.
 */
final class PassThroughHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        for (int i = 1; i < c.inputCount(); i++) {
            if (!c.opType().equals("CastLike")) {
                c.freeze(c.labels(i), c.describe() + " reads the channels as a parameter");
            }
        }
        Labels l = c.labels(0);
        if (l != null) {
            for (int o = 0; o < c.outputCount(); o++) {
                c.output(o, l);
            }
        }
    }
}
