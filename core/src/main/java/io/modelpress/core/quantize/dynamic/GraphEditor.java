package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Batches edits of the main graph against the node positions of one {@link GraphIndex}: nodes are replaced or
 * preceded by new ones, and the node list is rebuilt once in {@link #apply}. New names never collide with any name in
 * the model, subgraphs included. Subgraphs themselves are never edited.
 */
final class GraphEditor {
    private final OnnxModel model;
    private final GraphIndex index;
    private final Set<String> usedNames = new HashSet<>();
    private final Map<Integer, List<NodeProto>> replacements = new HashMap<>();
    private final Map<Integer, List<NodeProto>> insertions = new HashMap<>();
    private final Set<String> maybeUnused = new LinkedHashSet<>();

    GraphEditor(OnnxModel model) {
        this.model = model;
        this.index = new GraphIndex(model.graph());
        Graphs.forEachGraph(model.graph().build(), (path, g) -> {
            g.getInputList().forEach(v -> usedNames.add(v.getName()));
            g.getOutputList().forEach(v -> usedNames.add(v.getName()));
            g.getInitializerList().forEach(t -> usedNames.add(t.getName()));
            for (NodeProto n : g.getNodeList()) {
                usedNames.add(n.getName());
                usedNames.addAll(n.getOutputList());
                usedNames.addAll(n.getInputList());
            }
        });
    }

    OnnxModel model() {
        return model;
    }

    GraphIndex index() {
        return index;
    }

    /** {@code base}, or {@code base_2}, {@code base_3}... whichever is not yet used anywhere in the model. */
    String freshName(String base) {
        String name = base;
        for (int i = 2; usedNames.contains(name); i++) {
            name = base + "_" + i;
        }
        usedNames.add(name);
        return name;
    }

    /** Adds an initializer at once (positions of nodes do not change). Its name must come from {@link #freshName}. */
    void addInitializer(TensorProto tensor) {
        model.graph().addInitializer(tensor);
    }

    /** Replaces the node at {@code position} by {@code nodes} (an empty list removes it). */
    void replace(int position, List<NodeProto> nodes) {
        if (replacements.containsKey(position)) {
            throw new IllegalStateException("node " + Graphs.nodeLabel(index.node(position)) + " was already replaced");
        }
        replacements.put(position, List.copyOf(nodes));
    }

    boolean isReplaced(int position) {
        return replacements.containsKey(position);
    }

    /** Puts {@code nodes} before the node at {@code position}, after nodes inserted there earlier. */
    void insertBefore(int position, List<NodeProto> nodes) {
        insertions.computeIfAbsent(position, k -> new ArrayList<>()).addAll(nodes);
    }

    /** Constants that the edits may have left without consumers; {@link #apply} removes those that are. */
    void mayBeUnused(String constantName) {
        maybeUnused.add(constantName);
    }

    /** Rebuilds the node list with every edit, then drops constants that nothing reads any more. */
    void apply() {
        GraphProto.Builder graph = model.graph();
        List<NodeProto> nodes = new ArrayList<>(graph.getNodeCount() + insertions.size() * 4);
        for (int i = 0; i < index.nodes().size(); i++) {
            nodes.addAll(insertions.getOrDefault(i, List.of()));
            List<NodeProto> replacement = replacements.get(i);
            if (replacement != null) {
                nodes.addAll(replacement);
            } else {
                nodes.add(index.node(i));
            }
        }
        graph.clearNode().addAllNode(nodes);
        removeUnusedConstants(model, maybeUnused);
        replacements.clear();
        insertions.clear();
        maybeUnused.clear();
    }

    /** Removes initializers and Constant nodes among {@code names} that no node, subgraph or graph output reads. */
    static void removeUnusedConstants(OnnxModel model, Collection<String> names) {
        if (names.isEmpty()) {
            return;
        }
        GraphIndex after = new GraphIndex(model.graph());
        Set<String> unused = new HashSet<>();
        for (String name : names) {
            if (after.consumersOf(name).isEmpty() && !after.isGraphOutput(name)) {
                unused.add(name);
            }
        }
        GraphProto.Builder graph = model.graph();
        for (int i = graph.getInitializerCount() - 1; i >= 0; i--) {
            if (unused.contains(graph.getInitializer(i).getName())) {
                graph.removeInitializer(i);
            }
        }
        for (int i = graph.getInputCount() - 1; i >= 0; i--) {
            // models of IR < 4 also list initializers as graph inputs
            if (unused.contains(graph.getInput(i).getName())) {
                graph.removeInput(i);
            }
        }
        for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
            NodeProto node = graph.getNode(i);
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1 && unused.contains(node.getOutput(0))) {
                graph.removeNode(i);
            }
        }
        for (int i = graph.getValueInfoCount() - 1; i >= 0; i--) {
            if (unused.contains(graph.getValueInfo(i).getName())) {
                graph.removeValueInfo(i);
            }
        }
    }
}
