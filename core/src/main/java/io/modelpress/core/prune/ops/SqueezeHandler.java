package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

import java.util.Arrays;

/** Squeeze and Unsqueeze: the channels' axis shifts by the axes removed or inserted before it. */
final class SqueezeHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        c.freeze(c.labels(1), c.describe() + " reads the channels as axes");
        if (l == null) {
            return;
        }
        long[] in = c.inputDims(0);
        long[] out = c.outputDims(0);
        long[] axes = c.opset() >= 13 ? (c.has(1) ? c.longs(1) : null) : c.intsAttribute("axes").orElse(null);
        if (in == null || out == null || (c.opset() >= 13 && c.has(1) && axes == null)) {
            c.freeze(l, c.describe() + " has axes or shapes that are not known");
            return;
        }
        boolean unsqueeze = c.opType().equals("Unsqueeze");
        int rank = unsqueeze ? out.length : in.length;
        boolean[] listed = new boolean[rank];
        if (axes == null) {
            for (int i = 0; i < in.length; i++) {
                listed[i] = in[i] == 1;
            }
        } else {
            for (long axis : axes) {
                int n = Axes.normalize(axis, rank);
                if (n < 0) {
                    c.freeze(l, c.describe() + " has an axis out of range: " + Arrays.toString(axes));
                    return;
                }
                listed[n] = true;
            }
        }
        if (unsqueeze) {
            int seen = 0;
            for (int k = 0; k < rank; k++) {
                if (!listed[k]) {
                    if (seen == l.axis()) {
                        c.output(0, l.onAxis(k));
                        return;
                    }
                    seen++;
                }
            }
            c.freeze(l, c.describe() + " has inconsistent axes");
        } else {
            if (listed[l.axis()]) {
                c.freeze(l, c.describe() + " squeezes the pruned axis");
                return;
            }
            int removedBefore = 0;
            for (int k = 0; k < l.axis(); k++) {
                removedBefore += listed[k] ? 1 : 0;
            }
            c.output(0, l.onAxis(l.axis() - removedBefore));
        }
    }
}
