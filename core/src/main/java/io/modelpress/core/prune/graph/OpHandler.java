package io.modelpress.core.prune.graph;

/**
 * How one operator family treats channels: given the channels its inputs carry, it says which channels its outputs
 * carry, couples channels that must go together, records the constant slices it cuts with them (and fixups for
 * attributes or shape constants), opens new channel spaces where it produces channels, and freezes what it cannot
 * follow - with a reason. A handler never edits the graph itself.
 */
@FunctionalInterface
public interface OpHandler {
    void propagate(NodeContext node);
}
