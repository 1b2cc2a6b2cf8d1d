package io.modelpress.core.prune.importance;

import io.modelpress.core.prune.graph.ChannelGraph;

/**
 * How much each class (channel, neuron or head) of a group matters; the pruner removes the lowest. Strategies sum
 * over the group's constant slices, each slice normalized by its own mean so that no layer dominates by scale.
 */
public interface Importance {
    /** One score per class of the group, in the order of {@link ChannelGraph.Group#classes()}; higher matters more. */
    double[] score(ChannelGraph.Group group);

    /** A short name for reports, e.g. "l1". */
    String name();
}
