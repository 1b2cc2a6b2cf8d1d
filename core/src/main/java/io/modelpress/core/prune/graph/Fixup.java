package io.modelpress.core.prune.graph;

import io.modelpress.core.graph.GraphEditor;

/**
 * A graph edit that depends on how many channels survive, e.g. a Reshape's head count, a Split's sizes or a
 * depthwise Conv's group count. Handlers record fixups while analysing; the cut runs them once the removed channels
 * are known.
 */
@FunctionalInterface
public interface Fixup {
    void apply(Cut cut, GraphEditor edits);
}
