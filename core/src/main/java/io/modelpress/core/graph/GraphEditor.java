package io.modelpress.core.graph;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The one way passes edit a model's main graph. Edits are addressed by the node positions of one {@link GraphIndex}
 * taken when the editor is made, so that many small edits can be planned against it:
 * <ul>
 * <li>inputs and attributes of a node change in place at once ({@link #setInput}, {@link #setAttribute});</li>
 * <li>nodes are replaced, removed or preceded by new ones only when {@link #apply} rebuilds the node list, so
 *     positions stay valid until then;</li>
 * <li>initializers are added at once under names that are new model-wide ({@link #freshName}, {@link #addConstant}),
 *     or resized in place ({@link #replaceConstant});</li>
 * <li>constants the edits may have orphaned are dropped by {@link #apply} when nothing reads them any more.</li>
 * </ul>
 * Subgraphs (If/Loop/Scan bodies) are never edited, but everything they read from the main graph counts as read.
 * Whole-graph clean-ups that any pass may need afterwards are here too: {@link #removeUnusedConstants(OnnxModel)},
 * {@link #removeDeadNodes}, {@link #sortTopologically}, {@link #forgetShapes}, {@link #declareInitializersAsInputs}.
 */
public final class GraphEditor {
    private final OnnxModel model;
    private final GraphIndex index;
    private final UniqueNames names;
    private final Map<Integer, List<NodeProto>> replacements = new HashMap<>();
    private final Map<Integer, List<NodeProto>> insertions = new HashMap<>();
    private final Map<Integer, List<NodeProto>> appended = new HashMap<>();
    private final Set<String> maybeUnused = new LinkedHashSet<>();

    public GraphEditor(OnnxModel model) {
        this.model = model;
        this.index = new GraphIndex(model.graph());
        this.names = UniqueNames.of(model.graph());
    }

    public OnnxModel model() {
        return model;
    }

    /** The graph as it was when the editor was made; positions in edits refer to it. */
    public GraphIndex index() {
        return index;
    }

    /** {@code base}, or {@code base_1}, {@code base_2}... whichever is not yet used anywhere in the model. */
    public String freshName(String base) {
        return names.fresh(base);
    }

    /** The node now at {@code position}, with the in-place edits made so far. */
    public NodeProto node(int position) {
        return model.graph().getNode(position);
    }

    /** Adds an initializer at once (positions of nodes do not change). Its name must come from {@link #freshName}. */
    public void addInitializer(TensorProto tensor) {
        model.graph().addInitializer(tensor);
    }

    /** Adds a new initializer under a fresh name derived from {@code base}; returns the name. */
    public String addConstant(String base, TensorProto value) {
        String name = freshName(base);
        addInitializer(value.toBuilder().setName(name).build());
        return name;
    }

    /**
     * Gives a constant (initializer or Constant node) a new value, e.g. a resized weight, for every reader.
     *
     * @return false when {@code name} is no constant of the main graph
     */
    public boolean replaceConstant(String name, TensorProto value) {
        return Weights.replace(model, name, value);
    }

    /** Replaces the node at {@code position} by {@code nodes} (an empty list removes it), when {@link #apply} runs. */
    public void replace(int position, List<NodeProto> nodes) {
        if (replacements.containsKey(position)) {
            throw new IllegalStateException("node " + Graphs.nodeLabel(index.node(position)) + " was already replaced");
        }
        replacements.put(position, List.copyOf(nodes));
    }

    public boolean isReplaced(int position) {
        return replacements.containsKey(position);
    }

    /** Puts {@code nodes} before the node at {@code position}, after nodes inserted there earlier. */
    public void insertBefore(int position, List<NodeProto> nodes) {
        insertions.computeIfAbsent(position, k -> new ArrayList<>()).addAll(nodes);
    }

    public void insertBefore(int position, NodeProto node) {
        insertBefore(position, List.of(node));
    }

    /** Puts {@code nodes} right after the node at {@code position} (or its replacement), after nodes put there earlier. */
    public void insertAfter(int position, List<NodeProto> nodes) {
        appended.computeIfAbsent(position, k -> new ArrayList<>()).addAll(nodes);
    }

    /** Sets input {@code input} of a node at once, appending empty (omitted) inputs when the node has fewer. */
    public void setInput(int position, int input, String value) {
        NodeProto.Builder node = model.graph().getNodeBuilder(position);
        while (node.getInputCount() <= input) {
            node.addInput("");
        }
        node.setInput(input, value);
    }

    /** Sets an attribute at once, replacing one of the same name. */
    public void setAttribute(int position, AttributeProto attribute) {
        NodeProto.Builder node = model.graph().getNodeBuilder(position);
        for (int i = 0; i < node.getAttributeCount(); i++) {
            if (node.getAttribute(i).getName().equals(attribute.getName())) {
                node.setAttribute(i, attribute);
                return;
            }
        }
        node.addAttribute(attribute);
    }

    public void removeAttribute(int position, String name) {
        NodeProto.Builder node = model.graph().getNodeBuilder(position);
        for (int i = node.getAttributeCount() - 1; i >= 0; i--) {
            if (node.getAttribute(i).getName().equals(name)) {
                node.removeAttribute(i);
            }
        }
    }

    /** Constants that the edits may have left without readers; {@link #apply} removes those that are. */
    public void mayBeUnused(String constantName) {
        maybeUnused.add(constantName);
    }

    /** Rebuilds the node list with every replacement and insertion, then drops constants that nothing reads any more. */
    public void apply() {
        GraphProto.Builder graph = model.graph();
        if (graph.getNodeCount() != index.nodes().size()) {
            throw new IllegalStateException("the graph gained or lost nodes outside this editor");
        }
        List<NodeProto> nodes = new ArrayList<>(graph.getNodeCount() + insertions.size() * 4);
        for (int i = 0; i < graph.getNodeCount(); i++) {
            nodes.addAll(insertions.getOrDefault(i, List.of()));
            List<NodeProto> replacement = replacements.get(i);
            if (replacement != null) {
                nodes.addAll(replacement);
            } else {
                nodes.add(graph.getNode(i));
            }
            nodes.addAll(appended.getOrDefault(i, List.of()));
        }
        graph.clearNode().addAllNode(nodes);
        removeUnusedConstants(model, maybeUnused);
        replacements.clear();
        insertions.clear();
        appended.clear();
        maybeUnused.clear();
    }

    /**
     * Removes the main graph's constants (initializers and Constant nodes) that nothing reads: no node, no subgraph,
     * no graph output.
     *
     * @return the number of constants removed
     */
    public static int removeUnusedConstants(OnnxModel model) {
        Set<String> constants = new LinkedHashSet<>();
        model.graph().getInitializerList().forEach(t -> constants.add(t.getName()));
        for (NodeProto node : model.graph().getNodeList()) {
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1) {
                constants.add(node.getOutput(0));
            }
        }
        return removeUnusedConstants(model, constants);
    }

    /**
     * Removes the initializers and Constant nodes among {@code names} that nothing reads, with their graph-input
     * listing (models before IR 4 list initializers as inputs) and value_info.
     *
     * @return the number of names that were unused
     */
    public static int removeUnusedConstants(OnnxModel model, Collection<String> names) {
        if (names.isEmpty()) {
            return 0;
        }
        GraphIndex after = new GraphIndex(model.graph());
        Set<String> unused = new HashSet<>();
        for (String name : names) {
            if (after.consumersOf(name).isEmpty() && !after.isGraphOutput(name)) {
                unused.add(name);
            }
        }
        if (unused.isEmpty()) {
            return 0;
        }
        GraphProto.Builder graph = model.graph();
        for (int i = graph.getInitializerCount() - 1; i >= 0; i--) {
            if (unused.contains(graph.getInitializer(i).getName())) {
                graph.removeInitializer(i);
            }
        }
        for (int i = graph.getInputCount() - 1; i >= 0; i--) {
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
        return unused.size();
    }

    /**
     * Removes main-graph nodes none of whose outputs is read (by a node, a subgraph or as a graph output), repeatedly,
     * so whole dead chains go.
     *
     * @return the number of nodes removed
     */
    public static int removeDeadNodes(OnnxModel model) {
        return removeDeadNodes(model, node -> true);
    }

    /** As {@link #removeDeadNodes(OnnxModel)}, for the nodes {@code removable} accepts only. */
    public static int removeDeadNodes(OnnxModel model, Predicate<NodeProto> removable) {
        GraphProto.Builder graph = model.graph();
        int removed = 0;
        while (true) {
            GraphIndex index = new GraphIndex(graph);
            Set<Integer> dead = new HashSet<>();
            for (int i = 0; i < graph.getNodeCount(); i++) {
                boolean used = false;
                for (String out : graph.getNode(i).getOutputList()) {
                    if (!out.isEmpty() && (!index.consumersOf(out).isEmpty() || index.isGraphOutput(out))) {
                        used = true;
                        break;
                    }
                }
                if (!used && removable.test(graph.getNode(i))) {
                    dead.add(i);
                }
            }
            if (dead.isEmpty()) {
                return removed;
            }
            for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
                if (dead.contains(i)) {
                    graph.removeNode(i);
                }
            }
            removed += dead.size();
        }
    }

    /** Puts the main graph's nodes in topological order when they are not: ONNX requires it, not every exporter complies. */
    public static void sortTopologically(OnnxModel model) {
        GraphIndex index = new GraphIndex(model.graph());
        Set<String> available = new HashSet<>(index.graphInputs());
        model.graph().getInitializerList().forEach(t -> available.add(t.getName()));
        boolean sorted = true;
        for (NodeProto node : index.nodes()) {
            for (String input : node.getInputList()) {
                sorted &= input.isEmpty() || available.contains(input) || index.producerOf(input).isEmpty();
            }
            for (String input : GraphIndex.implicitInputs(node)) {
                sorted &= available.contains(input) || index.producerOf(input).isEmpty();
            }
            available.addAll(node.getOutputList());
        }
        if (!sorted) {
            List<NodeProto> order = index.topologicalOrder().stream().map(index::node).toList();
            model.graph().clearNode().addAllNode(order);
        }
    }

    /** Drops declared value_info for values whose shapes changed, so that shape inference (ONNX Runtime's) infers them anew. */
    public static void forgetShapes(OnnxModel model, Set<String> values) {
        GraphProto.Builder graph = model.graph();
        for (int i = graph.getValueInfoCount() - 1; i >= 0; i--) {
            if (values.contains(graph.getValueInfo(i).getName())) {
                graph.removeValueInfo(i);
            }
        }
    }

    /**
     * Keeps graph-input declarations of initializers true: an initializer listed as an input gets its current type
     * and shape, and before IR 4 (where every initializer must be an input) new initializers are listed too.
     */
    public static void declareInitializersAsInputs(OnnxModel model) {
        GraphProto.Builder graph = model.graph();
        Map<String, TensorProto> initializers = new LinkedHashMap<>();
        graph.getInitializerList().forEach(t -> initializers.put(t.getName(), t));
        Set<String> listed = new HashSet<>();
        for (int i = 0; i < graph.getInputCount(); i++) {
            TensorProto t = initializers.get(graph.getInput(i).getName());
            if (t != null) {
                listed.add(t.getName());
                graph.setInput(i, inputInfo(t));
            }
        }
        if (model.proto().getIrVersion() < 4) {
            initializers.values().stream().filter(t -> !listed.contains(t.getName())).forEach(t -> graph.addInput(inputInfo(t)));
        }
    }

    private static ValueInfoProto inputInfo(TensorProto t) {
        return Nodes.tensorInfo(t.getName(), DataType.of(t), t.getDimsList().toArray());
    }
}
