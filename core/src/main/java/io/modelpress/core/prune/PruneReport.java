package io.modelpress.core.prune;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.graph.PassReport;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What a pruning pass did, for report.json and the CLI: sizes before and after, each group's fate, each cut. */
public final class PruneReport extends PassReport {
    /**
     * One group of coupled channels.
     *
     * @param kind    channels, neurons, heads or embedding
     * @param sources the nodes producing the channels
     * @param width   classes before (channels, neurons or heads)
     * @param unit    channels per class on a source (head_dim for heads, else 1)
     * @param removed classes removed
     * @param reason  why the group was left whole (frozen, or nothing to remove), or null when pruned
     */
    public record Group(int index, String kind, List<String> sources, int width, int unit, int removed, String reason) {
        public boolean pruned() {
            return removed > 0;
        }
    }

    /** One tensor axis that shrank. */
    public record Cut(String node, String opType, String tensor, int axis, long before, long after) {
    }

    /** A repeated block found by depth pruning. */
    public record Block(int index, String input, String output, int nodes, boolean removed) {
    }

    private final String method;
    private final List<Group> groups = new ArrayList<>();
    private final List<Cut> cuts = new ArrayList<>();
    private final List<Block> blocks = new ArrayList<>();

    public PruneReport(String method) {
        this.method = method;
    }

    void add(Group group) {
        groups.add(group);
    }

    void add(Cut cut) {
        cuts.add(cut);
    }

    void add(Block block) {
        blocks.add(block);
    }

    public String method() {
        return method;
    }

    public List<Group> groups() {
        return Collections.unmodifiableList(groups);
    }

    public List<Cut> cuts() {
        return Collections.unmodifiableList(cuts);
    }

    public List<Block> blocks() {
        return Collections.unmodifiableList(blocks);
    }

    /** True when the model changed. */
    public boolean changed() {
        return !cuts.isEmpty() || blocks.stream().anyMatch(Block::removed);
    }

    @Override
    public long changedCount() {
        return cuts.size() + blocks.stream().filter(Block::removed).count();
    }

    public List<Group> frozenGroups() {
        return groups.stream().filter(g -> !g.pruned() && g.reason() != null).toList();
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode json = newJson();
        json.put("method", method);
        json.put("changed", changed());
        putFootprints(json);
        putNotes(json);
        if (!groups.isEmpty()) {
            ArrayNode array = json.putArray("groups");
            for (Group g : groups) {
                ObjectNode n = array.addObject();
                n.put("index", g.index());
                n.put("kind", g.kind());
                ArrayNode sources = n.putArray("sources");
                g.sources().forEach(sources::add);
                n.put("width", g.width());
                n.put("unit", g.unit());
                n.put("removed", g.removed());
                if (g.reason() != null) {
                    n.put("reason", g.reason());
                }
            }
        }
        if (!cuts.isEmpty()) {
            ArrayNode array = json.putArray("cuts");
            for (Cut c : cuts) {
                ObjectNode n = array.addObject();
                n.put("node", c.node());
                n.put("op", c.opType());
                n.put("tensor", c.tensor());
                n.put("axis", c.axis());
                n.put("before", c.before());
                n.put("after", c.after());
            }
        }
        if (!blocks.isEmpty()) {
            ArrayNode array = json.putArray("blocks");
            for (Block b : blocks) {
                ObjectNode n = array.addObject();
                n.put("index", b.index());
                n.put("input", b.input());
                n.put("output", b.output());
                n.put("nodes", b.nodes());
                n.put("removed", b.removed());
            }
        }
        return json;
    }
}
