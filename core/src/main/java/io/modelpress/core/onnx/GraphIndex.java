package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.GraphProtoOrBuilder;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A read-only index of one graph: who produces and who consumes each value. A node that holds subgraphs counts as a
 * consumer of every outer value its subgraphs read, so an edit never removes a value an If/Loop/Scan body still needs.
 * Node positions are valid until the graph is edited; build a new index after editing.
 */
public final class GraphIndex {
    private final List<NodeProto> nodes;
    private final Map<String, Integer> producer = new HashMap<>();
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final Set<String> graphInputs = new LinkedHashSet<>();
    private final Set<String> graphOutputs = new LinkedHashSet<>();
    private final Set<String> initializers = new HashSet<>();

    public GraphIndex(GraphProtoOrBuilder graph) {
        this.nodes = List.copyOf(graph.getNodeList());
        for (ValueInfoProto v : graph.getInputList()) {
            graphInputs.add(v.getName());
        }
        for (ValueInfoProto v : graph.getOutputList()) {
            graphOutputs.add(v.getName());
        }
        for (TensorProto t : graph.getInitializerList()) {
            initializers.add(t.getName());
        }
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            for (String out : node.getOutputList()) {
                if (!out.isEmpty()) {
                    producer.put(out, i);
                }
            }
            Set<String> reads = new LinkedHashSet<>(node.getInputList());
            reads.addAll(implicitInputs(node));
            for (String in : reads) {
                if (!in.isEmpty()) {
                    consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
                }
            }
        }
    }

    public List<NodeProto> nodes() {
        return nodes;
    }

    public NodeProto node(int position) {
        return nodes.get(position);
    }

    public Optional<Integer> producerOf(String value) {
        return Optional.ofNullable(producer.get(value));
    }

    public Optional<NodeProto> producerNode(String value) {
        return producerOf(value).map(nodes::get);
    }

    public List<Integer> consumersOf(String value) {
        return consumers.getOrDefault(value, List.of());
    }

    public List<NodeProto> consumerNodes(String value) {
        return consumersOf(value).stream().map(nodes::get).toList();
    }

    public boolean isGraphInput(String value) {
        return graphInputs.contains(value) && !initializers.contains(value);
    }

    public boolean isGraphOutput(String value) {
        return graphOutputs.contains(value);
    }

    public boolean isInitializer(String value) {
        return initializers.contains(value);
    }

    public Set<String> graphInputs() {
        return Collections.unmodifiableSet(graphInputs);
    }

    public Set<String> graphOutputs() {
        return Collections.unmodifiableSet(graphOutputs);
    }

    /** Node positions in an order where every node comes after the producers of its inputs. */
    public List<Integer> topologicalOrder() {
        int n = nodes.size();
        int[] pending = new int[n];
        List<List<Integer>> dependents = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            dependents.add(new ArrayList<>());
        }
        for (int i = 0; i < n; i++) {
            Set<Integer> producers = new HashSet<>();
            NodeProto node = nodes.get(i);
            Set<String> reads = new LinkedHashSet<>(node.getInputList());
            reads.addAll(implicitInputs(node));
            for (String in : reads) {
                Integer p = producer.get(in);
                if (p != null && p != i && producers.add(p)) {
                    dependents.get(p).add(i);
                }
            }
            pending[i] = producers.size();
        }
        Deque<Integer> ready = new ArrayDeque<>();
        for (int i = 0; i < n; i++) {
            if (pending[i] == 0) {
                ready.add(i);
            }
        }
        List<Integer> order = new ArrayList<>(n);
        while (!ready.isEmpty()) {
            int i = ready.poll();
            order.add(i);
            for (int d : dependents.get(i)) {
                if (--pending[d] == 0) {
                    ready.add(d);
                }
            }
        }
        if (order.size() != n) {
            throw new ModelPressException(ErrorCode.INVALID_GRAPH, "graph", "contains a cycle ("
                    + (n - order.size()) + " nodes depend on each other)");
        }
        return order;
    }

    /** Outer-scope values read by the node's subgraphs (values they use but do not define themselves). */
    public static Set<String> implicitInputs(NodeProto node) {
        Set<String> result = new LinkedHashSet<>();
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.hasG()) {
                collectOuterReads(attribute.getG(), result);
            }
            for (GraphProto g : attribute.getGraphsList()) {
                collectOuterReads(g, result);
            }
        }
        return result;
    }

    private static void collectOuterReads(GraphProto graph, Set<String> into) {
        Set<String> local = new HashSet<>();
        graph.getInputList().forEach(v -> local.add(v.getName()));
        graph.getInitializerList().forEach(t -> local.add(t.getName()));
        graph.getNodeList().forEach(n -> local.addAll(n.getOutputList()));
        for (NodeProto n : graph.getNodeList()) {
            for (String in : n.getInputList()) {
                if (!in.isEmpty() && !local.contains(in)) {
                    into.add(in);
                }
            }
            for (String in : implicitInputs(n)) {
                if (!local.contains(in)) {
                    into.add(in);
                }
            }
        }
        for (ValueInfoProto out : graph.getOutputList()) {
            if (!local.contains(out.getName())) {
                into.add(out.getName());
            }
        }
    }
}
