package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Kind;
import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/** ConvTranspose: weight [C_in, C_out/group, k...]; input channels cut axis 0, new channels are axis 1 (and the bias). */
final class ConvTransposeHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels in = c.labels(0);
        long[] w = c.dimsOfConstant(1);
        long group = c.intAttribute("group", 1);
        if (in != null) {
            if (w == null || w.length < 2) {
                c.freeze(in, c.describe() + " has weights that are not constants");
            } else if (in.axis() != 1) {
                c.freeze(in, c.describe() + " reads the pruned axis as a batch or spatial axis");
            } else if (group != 1) {
                c.freeze(in, c.describe() + " is a grouped transposed convolution (group " + group + ")");
            } else {
                c.cutReading(1, 0, in.ids(), 0, in);
            }
        }
        if (w != null && w.length >= 2 && group == 1 && (!c.has(2) || c.isConstant(2))) {
            int[] ids = c.newChannels(0, 1, (int) w[1], Kind.CHANNELS);
            c.cut(1, 1, ids, Role.OUT);
            if (c.has(2)) {
                c.cut(2, 0, ids, Role.OTHER);
            }
        }
    }
}
