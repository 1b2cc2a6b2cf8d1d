package io.modelpress.core.prune.ops;

import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.prune.graph.ChannelGraph.Kind;
import io.modelpress.core.prune.graph.ChannelGraph.Role;
import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Conv: input channels are rows of the weight's axis 1; the filters (weight axis 0, bias) open new channels. A depthwise
 * convolution (group = input channels) passes its input's channels through, cutting its filters and rewriting its
 * group count; other grouped convolutions are left whole (their groups would have to shrink evenly).
 */
final class ConvHandler implements OpHandler {
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
            } else if (group == 1) {
                c.cutReading(1, 1, in.ids(), 0, in);
            } else if (group == in.size() && w[1] == 1 && w[0] % group == 0) {
                depthwise(c, in, (int) (w[0] / group));
                return;
            } else {
                c.freeze(in, c.describe() + " is a grouped convolution (group " + group + ") whose groups would have to shrink evenly");
            }
        }
        boolean biasCuttable = !c.has(2) || c.isConstant(2);
        if (w != null && w.length >= 2 && group == 1 && biasCuttable) {
            int[] ids = c.newChannels(0, 1, (int) w[0], Kind.CHANNELS);
            c.cut(1, 0, ids, Role.OUT);
            if (c.has(2)) {
                c.cut(2, 0, ids, Role.OTHER);
            }
        }
    }

    private static void depthwise(NodeContext c, Labels in, int multiplier) {
        int[] out = Axes.repeatEach(in.ids(), multiplier);
        c.cut(1, 0, out, Role.DEPTHWISE);
        if (c.has(2)) {
            c.cut(2, 0, out, Role.OTHER);
        }
        c.output(0, new Labels(1, out));
        int position = c.position();
        c.fixup((cut, edits) -> {
            if (cut.changes(in.ids())) {
                edits.setAttribute(position, Nodes.attr("group", (long) cut.kept(in.ids())));
            }
        });
    }
}
