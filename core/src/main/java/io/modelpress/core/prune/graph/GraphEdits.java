package io.modelpress.core.prune.graph;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.transform.UniqueNames;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Edits to the main graph addressed by node position, so that many small edits can be planned against one
 * {@link GraphIndex}: inputs and attributes change in place at once, new nodes are inserted only by {@link #apply()}
 * (positions stay valid until then). New names are unique model-wide.
 */
public final class GraphEdits {
    private final OnnxModel model;
    private final UniqueNames names;
    private final TreeMap<Integer, List<NodeProto>> inserts = new TreeMap<>();

    public GraphEdits(OnnxModel model) {
        this.model = model;
        this.names = UniqueNames.of(model.graph());
    }

    public OnnxModel model() {
        return model;
    }

    public String fresh(String base) {
        return names.fresh(base);
    }

    public NodeProto node(int position) {
        return model.graph().getNode(position);
    }

    /** Sets input {@code input} of a node, appending empty (omitted) inputs when the node has fewer. */
    public void setInput(int position, int input, String value) {
        NodeProto.Builder node = model.graph().getNodeBuilder(position);
        while (node.getInputCount() <= input) {
            node.addInput("");
        }
        node.setInput(input, value);
    }

    /** Sets an attribute, replacing one of the same name. */
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

    /** Adds a new initializer under a fresh name derived from {@code base}; returns the name. */
    public String addConstant(String base, TensorProto value) {
        String name = fresh(base);
        model.graph().addInitializer(value.toBuilder().setName(name));
        return name;
    }

    /** Plans a new node right before the node now at {@code position}. */
    public void insertBefore(int position, NodeProto node) {
        inserts.computeIfAbsent(position, k -> new ArrayList<>()).add(node);
    }

    /** Inserts the planned nodes (later positions first, so earlier ones stay valid). */
    public void apply() {
        GraphProto.Builder graph = model.graph();
        for (Map.Entry<Integer, List<NodeProto>> e : inserts.descendingMap().entrySet()) {
            List<NodeProto> nodes = e.getValue();
            for (int i = nodes.size() - 1; i >= 0; i--) {
                graph.addNode(e.getKey(), nodes.get(i));
            }
        }
        inserts.clear();
    }

    /** Drops declared value_info for values whose shapes changed (ONNX Runtime infers them again). */
    public void forgetShapes(Set<String> values) {
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
    public void declareInitializersAsInputs() {
        GraphProto.Builder graph = model.graph();
        Map<String, TensorProto> initializers = new java.util.LinkedHashMap<>();
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

    private static ai.onnx.proto.OnnxMl.ValueInfoProto inputInfo(TensorProto t) {
        Object[] dims = t.getDimsList().toArray();
        return io.modelpress.core.onnx.Nodes.tensorInfo(t.getName(), io.modelpress.core.onnx.DataType.of(t), dims);
    }

    /**
     * Removes main-graph nodes none of whose outputs is read (by a node, a subgraph or as a graph output), repeatedly,
     * so whole dead chains go.
     *
     * @return the number of nodes removed
     */
    public static int removeDeadNodes(OnnxModel model) {
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
                if (!used) {
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
}
