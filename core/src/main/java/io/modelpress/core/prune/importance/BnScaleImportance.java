package io.modelpress.core.prune.importance;

import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.graph.ChannelGraph.Role;


/**
 * |gamma| of the BatchNormalization layers a class passes through (network slimming); a group without batch norm is
 * scored by {@link MagnitudeImportance} (L2) instead.
 */
public final class BnScaleImportance implements Importance {
    private final SliceScores scores;
    private final Importance fallback;

    public BnScaleImportance(OnnxModel model, ChannelGraph graph) {
        this.scores = new SliceScores(model, graph);
        this.fallback = new MagnitudeImportance(model, graph, 2);
    }

    @Override
    public double[] score(ChannelGraph.Group group) {
        double[] result = scores.classScores(group, slice -> slice.role() == Role.BN_SCALE ? scores.norms(slice.tensor(), slice.axis(), 1) : null);
        return result != null ? result : fallback.score(group);
    }

    @Override
    public String name() {
        return "bn_scale";
    }
}
