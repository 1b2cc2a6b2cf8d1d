package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.ChannelGraph.Kind;
import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Gemm (Y = alpha A'B' + beta C): A's K axis is read against B's K axis; the output neurons are B's N axis and C's
 * last axis when C has one of that width.
 */
final class GemmHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels a = c.labels(0);
        long[] b = c.dimsOfConstant(1);
        boolean transA = c.intAttribute("transA", 0) != 0;
        boolean transB = c.intAttribute("transB", 0) != 0;
        c.freeze(c.labels(1), c.describe() + " reads the channels as its weight matrix");
        if (a != null) {
            int kAxis = transA ? 0 : 1;
            if (a.axis() == kAxis && b != null && b.length == 2) {
                c.cutReading(1, transB ? 1 : 0, a.ids(), 0, a);
            } else {
                c.freeze(a, c.describe() + (b == null ? " has a weight matrix that is not a constant" : " reads the pruned axis as rows"));
            }
        }
        Labels bias = c.labels(2);
        if (b == null || b.length != 2) {
            c.freeze(bias, c.describe() + " adds the channels to a product it cannot prune");
            return;
        }
        int n = (int) (transB ? b[0] : b[1]);
        long[] cDims = c.inputDims(2);
        boolean biasHasN = cDims != null && cDims.length >= 1 && cDims[cDims.length - 1] == n && n > 1;
        if (bias != null && (!biasHasN || bias.axis() != cDims.length - 1)) {
            c.freeze(bias, c.describe() + " broadcasts the channels over its output");
            return;
        }
        if (biasHasN && bias == null && !c.isConstant(2)) {
            return;
        }
        int[] ids = c.newChannels(0, 1, n, Kind.NEURONS);
        c.cut(1, transB ? 0 : 1, ids, Role.OUT);
        if (biasHasN) {
            if (bias != null) {
                c.couple(ids, bias.ids(), c.describe() + " adds a tensor that cannot shrink");
            } else {
                c.cut(2, cDims.length - 1, ids, Role.OTHER);
            }
        }
    }
}
