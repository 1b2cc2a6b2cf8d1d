package io.modelpress.core.prune.importance;

import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.graph.ChannelGraph.Role;


/**
 * Weight magnitude (L1: sum of |w|; L2: sum of w^2) of everything a class owns: its filters or weight columns, the
 * next layers' weights that read it, depthwise filters, summed over the group's slices.
 */
public final class MagnitudeImportance implements Importance {
    private final SliceScores scores;
    private final int p;

    public MagnitudeImportance(OnnxModel model, ChannelGraph graph, int p) {
        if (p != 1 && p != 2) {
            throw new IllegalArgumentException("p must be 1 or 2");
        }
        this.scores = new SliceScores(model, graph);
        this.p = p;
    }

    @Override
    public double[] score(ChannelGraph.Group group) {
        double[] result = scores.classScores(group, slice -> weighed(slice.role()) ? scores.norms(slice.tensor(), slice.axis(), p) : null);
        return result != null ? result : new double[group.width()];
    }

    static boolean weighed(Role role) {
        return role == Role.OUT || role == Role.IN || role == Role.DEPTHWISE;
    }

    @Override
    public String name() {
        return p == 1 ? "l1" : "l2";
    }
}
