package io.modelpress.core.prune.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The channel dependency graph of a model: every prunable channel, which channels must go together, which constant
 * slices follow each channel, and which channels must stay (with the reason).
 *
 * <p>Each producer of channels (a Conv's filters, a Gemm/MatMul's output neurons, an embedding table's columns) opens a
 * <em>space</em> of fresh channel ids. Operators that combine tensors (a residual Add, a QK^T product, a head split)
 * couple ids, and coupled ids form a <em>class</em>: the unit that is removed or kept as a whole. Spaces whose
 * channels are coupled with each other form a <em>group</em>, over which ratios and importance are taken.
 */
public final class ChannelGraph {
    /** What a group's channels are, for reports and per-kind ratios. */
    public enum Kind {
        /** Convolution filters. */
        CHANNELS,
        /** Output neurons of Gemm/MatMul layers (e.g. the intermediate neurons of a transformer's FFN). */
        NEURONS,
        /** Attention heads: each class is one head of head_dim channels. */
        HEADS,
        /** Columns of an embedding table. */
        EMBEDDING;

        public String label() {
            return name().toLowerCase();
        }
    }

    /** What a constant slice is to its channel: the importance criteria weigh OUT, IN and DEPTHWISE slices. */
    public enum Role {
        /** A producer's weights for the channel (a Conv filter, a weight column of a Gemm/MatMul). */
        OUT,
        /** A consumer's weights reading the channel (a Conv's input channel, a weight row of a MatMul). */
        IN,
        /** A depthwise convolution's filter for the channel. */
        DEPTHWISE,
        /** A BatchNormalization scale (gamma). */
        BN_SCALE,
        /** Biases, normalization statistics and other per-channel constants. */
        OTHER
    }

    /** A producer of new channels. */
    public record Space(int index, String node, String opType, Kind kind, int firstId, int size) {
    }

    /**
     * A constant input of one node whose {@code axis} follows channels: position j is removed with channel
     * {@code ids[j]}. For IN slices, {@code activation} is the value the node reads the channels from (on
     * {@code activationAxis}), for activation-based importance.
     */
    public record Slice(int nodeIndex, String node, String opType, int input, String tensor, int axis, int[] ids, Role role,
                        String activation, int activationAxis) {
    }

    /** A coupled set of spaces and the classes (units of removal) they hold. */
    public record Group(int index, Kind kind, List<Space> spaces, List<Integer> classes, int unit, List<String> frozenReasons) {
        public boolean frozen() {
            return !frozenReasons.isEmpty();
        }

        /** Number of classes (channels, neurons or heads). */
        public int width() {
            return classes.size();
        }

        /** Names of the nodes that produce the group's channels. */
        public List<String> sources() {
            return spaces.stream().map(Space::node).toList();
        }
    }

    private final UnionFind ids = new UnionFind();
    private final List<Space> spaces = new ArrayList<>();
    private final List<Integer> spaceOfId = new ArrayList<>();
    private final List<Slice> slices = new ArrayList<>();
    private final Map<Integer, Set<String>> freezeReasons = new HashMap<>();
    private final Map<Integer, Integer> headUnit = new HashMap<>();
    private final Map<String, Labels> labels = new LinkedHashMap<>();
    private final List<Fixup> fixups = new ArrayList<>();
    private List<Group> groups;

    ChannelGraph() {
    }

    // ------------------------------------------------------------------ building (by the analysis and its handlers)

    int[] newSpace(String node, String opType, Kind kind, int size) {
        int first = ids.add(size);
        spaces.add(new Space(spaces.size(), node, opType, kind, first, size));
        int[] result = new int[size];
        for (int i = 0; i < size; i++) {
            result[i] = first + i;
            spaceOfId.add(spaces.size() - 1);
        }
        return result;
    }

    void couple(int a, int b) {
        ids.union(a, b);
    }

    void freeze(int id, String reason) {
        freezeReasons.computeIfAbsent(id, k -> new LinkedHashSet<>()).add(reason);
    }

    void addSlice(Slice slice) {
        slices.add(slice);
    }

    void markHead(int id, int unit) {
        headUnit.put(id, unit);
    }

    void addFixup(Fixup fixup) {
        fixups.add(fixup);
    }

    void setLabels(String value, Labels l) {
        labels.put(value, l);
    }

    /** Closes the graph: resolves classes and groups. */
    void finish() {
        UnionFind spaceSets = new UnionFind();
        spaceSets.add(spaces.size());
        for (int id = 0; id < ids.count(); id++) {
            spaceSets.union(spaceOfId.get(id), spaceOfId.get(ids.find(id)));
        }
        Map<Integer, List<Space>> spacesByGroup = new LinkedHashMap<>();
        for (Space s : spaces) {
            spacesByGroup.computeIfAbsent(spaceSets.find(s.index()), k -> new ArrayList<>()).add(s);
        }
        Map<Integer, Set<String>> reasonsByClass = new HashMap<>();
        freezeReasons.forEach((id, reasons) -> reasonsByClass.computeIfAbsent(ids.find(id), k -> new LinkedHashSet<>()).addAll(reasons));
        Map<Integer, Integer> unitByClass = new HashMap<>();
        headUnit.forEach((id, unit) -> unitByClass.merge(ids.find(id), unit, Math::max));
        List<Group> result = new ArrayList<>();
        for (List<Space> members : spacesByGroup.values()) {
            Set<Integer> classes = new LinkedHashSet<>();
            Set<String> reasons = new LinkedHashSet<>();
            int unit = 1;
            boolean heads = false;
            for (Space s : members) {
                for (int id = s.firstId(); id < s.firstId() + s.size(); id++) {
                    int root = ids.find(id);
                    if (classes.add(root)) {
                        reasons.addAll(reasonsByClass.getOrDefault(root, Set.of()));
                        if (unitByClass.containsKey(root)) {
                            heads = true;
                            unit = Math.max(unit, unitByClass.get(root));
                        }
                    }
                }
            }
            Kind kind = heads ? Kind.HEADS
                    : members.stream().anyMatch(s -> s.kind() == Kind.CHANNELS) ? Kind.CHANNELS
                    : members.stream().anyMatch(s -> s.kind() == Kind.NEURONS) ? Kind.NEURONS : Kind.EMBEDDING;
            result.add(new Group(result.size(), kind, List.copyOf(members), List.copyOf(classes), unit, List.copyOf(reasons)));
        }
        groups = Collections.unmodifiableList(result);
    }

    // ------------------------------------------------------------------ reading the result

    public List<Group> groups() {
        return groups;
    }

    public List<Slice> slices() {
        return Collections.unmodifiableList(slices);
    }

    /** The class (unit of removal) a channel id belongs to. */
    public int classOf(int id) {
        return ids.find(id);
    }

    /** Channels carried by a value, or null. */
    public Labels labels(String value) {
        return labels.get(value);
    }

    public Map<String, Labels> allLabels() {
        return Collections.unmodifiableMap(labels);
    }

    List<Fixup> fixups() {
        return fixups;
    }

    public List<Space> spaces() {
        return Collections.unmodifiableList(spaces);
    }

    /**
     * Every list of positions that shrinks with the channels: each labelled value axis and each constant slice. A
     * removal must leave each of them at least one position (ONNX Runtime cannot run empty convolutions).
     */
    public List<int[]> positionLists() {
        List<int[]> lists = new ArrayList<>();
        labels.values().forEach(l -> lists.add(l.ids()));
        slices.forEach(s -> lists.add(s.ids()));
        return lists;
    }
}
