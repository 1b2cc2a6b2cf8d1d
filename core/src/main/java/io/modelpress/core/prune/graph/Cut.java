package io.modelpress.core.prune.graph;

import java.util.Set;

/** Which channels a pruning removes, as fixups and the cutter ask about positions. */
public final class Cut {
    private final ChannelGraph graph;
    private final Set<Integer> removedClasses;

    Cut(ChannelGraph graph, Set<Integer> removedClasses) {
        this.graph = graph;
        this.removedClasses = Set.copyOf(removedClasses);
    }

    public boolean removed(int id) {
        return id != Labels.NONE && removedClasses.contains(graph.classOf(id));
    }

    /** Positions that stay. */
    public int kept(int[] ids) {
        return keptBefore(ids, ids.length);
    }

    /** Positions that stay among the first {@code end}. */
    public int keptBefore(int[] ids, int end) {
        int kept = 0;
        for (int i = 0; i < end; i++) {
            if (!removed(ids[i])) {
                kept++;
            }
        }
        return kept;
    }

    /** True when at least one position goes. */
    public boolean changes(int[] ids) {
        for (int id : ids) {
            if (removed(id)) {
                return true;
            }
        }
        return false;
    }
}
