package io.modelpress.core.prune.ops;

import io.modelpress.core.prune.graph.Labels;
import io.modelpress.core.prune.graph.NodeContext;
import io.modelpress.core.prune.graph.OpHandler;

/** Transpose: the channels move to wherever the permutation puts their axis. */
final class TransposeHandler implements OpHandler {
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
        long[] perm = c.intsAttribute("perm").orElse(null);
        int rank = dims.length;
        for (int k = 0; k < rank; k++) {
            long from = perm == null ? rank - 1 - k : perm[k];
            if (from == l.axis()) {
                c.output(0, l.onAxis(k));
                return;
            }
        }
        c.freeze(l, c.describe() + " has a permutation that drops the pruned axis");
    }
}
