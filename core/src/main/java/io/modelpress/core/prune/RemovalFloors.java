package io.modelpress.core.prune;

import io.modelpress.core.prune.graph.ChannelGraph;
import io.modelpress.core.prune.graph.Labels;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Lower bounds a removal respects: every source keeps at least round_to of its channels (or all it has), and every
 * tensor axis that shrinks keeps at least one position - a class that coupling spread over several sources (a Concat
 * feeding a squeeze-excite, say) may otherwise take one source's channels away entirely.
 */
final class RemovalFloors {
    private final ChannelGraph graph;
    private final int[] remaining;
    private final int[] floor;
    private final Map<Integer, Map<Integer, Integer>> uses = new HashMap<>();

    RemovalFloors(ChannelGraph graph, Set<Integer> candidates, int roundTo) {
        this.graph = graph;
        List<ChannelGraph.Space> spaces = graph.spaces();
        List<int[]> lists = graph.positionLists();
        remaining = new int[spaces.size() + lists.size()];
        floor = new int[remaining.length];
        for (ChannelGraph.Space s : spaces) {
            remaining[s.index()] = s.size();
            floor[s.index()] = Math.max(1, Math.min(s.size(), roundTo));
            for (int id = s.firstId(); id < s.firstId() + s.size(); id++) {
                count(graph.classOf(id), s.index(), candidates);
            }
        }
        for (int k = 0; k < lists.size(); k++) {
            int counter = spaces.size() + k;
            remaining[counter] = lists.get(k).length;
            floor[counter] = 1;
            for (int id : lists.get(k)) {
                if (id != Labels.NONE) {
                    count(graph.classOf(id), counter, candidates);
                }
            }
        }
    }

    private void count(int cls, int counter, Set<Integer> candidates) {
        if (candidates.contains(cls)) {
            uses.computeIfAbsent(cls, k -> new HashMap<>()).merge(counter, 1, Integer::sum);
        }
    }

    /** Removes the class if every bound still holds afterwards; returns whether it did. */
    boolean tryRemove(int cls) {
        Map<Integer, Integer> use = uses.getOrDefault(cls, Map.of());
        for (Map.Entry<Integer, Integer> e : use.entrySet()) {
            if (remaining[e.getKey()] - e.getValue() < floor[e.getKey()]) {
                return false;
            }
        }
        use.forEach((counter, n) -> remaining[counter] -= n);
        return true;
    }

    ChannelGraph graph() {
        return graph;
    }
}
