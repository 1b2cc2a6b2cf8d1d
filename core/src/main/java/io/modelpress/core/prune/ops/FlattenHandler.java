package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/**
 * Flatten to [prod(dims before axis), prod(dims from axis)]: the channels become blocks of positions (e.g. a CNN's
 * channels x height x width feeding a classifier), provided nothing of size above 1 precedes them in their half.
 */
final class FlattenHandler implements OpHandler {
    @Override
    public void propagate(NodeContext c) {
        Labels l = c.labels(0);
        long[] in = c.inputDims(0);
        if (l == null) {
            return;
        }
        if (in == null) {
            c.freeze(l, c.describe() + " has an input of unknown shape");
            return;
        }
        long attribute = c.intAttribute("axis", 1);
        int axis = (int) (attribute < 0 ? attribute + in.length : attribute);
        int a = l.axis();
        int from = a < axis ? 0 : axis;
        int to = a < axis ? axis : in.length;
        if (Axes.product(in, from, a) != 1) {
            c.freeze(l, c.describe() + " merges the pruned axis with axes before it");
            return;
        }
        int block = (int) Axes.product(in, a + 1, to);
        c.output(0, new Labels(a < axis ? 0 : 1, Axes.repeatEach(l.ids(), block)));
    }
}
