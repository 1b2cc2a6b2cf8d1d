package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.UniqueNames;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** What a {@link NodeConverter} may ask about the model while one opset step is applied. */
final class UpgradeContext {
    private final OnnxModel original;
    private final UniqueNames names;
    /** Graphs from the main graph (first) to the one being converted (last). */
    private final Deque<GraphProto.Builder> scopes = new ArrayDeque<>();
    private final Deque<String> paths = new ArrayDeque<>();
    private Map<String, ValueTypes.TensorType> inferred;
    /** Outputs of Resize nodes made from Upsample, whose scales are >= 1 by Upsample's definition. */
    private final Set<String> upsampling = new HashSet<>();
    /** Constants this upgrade added; a later step may stop reading them (Resize's empty roi from opset 13 on). */
    private final Set<String> createdConstants = new HashSet<>();
    private int opset;

    UpgradeContext(OnnxModel original, UniqueNames names) {
        this.original = original;
        this.names = names;
    }

    /** The opset being converted to in this step. */
    int opset() {
        return opset;
    }

    void startStep(int opset) {
        this.opset = opset;
    }

    void enter(GraphProto.Builder graph, String path) {
        scopes.addLast(graph);
        paths.addLast(path);
    }

    void leave() {
        scopes.removeLast();
        paths.removeLast();
    }

    String path() {
        return paths.getLast();
    }

    Set<String> createdConstants() {
        return createdConstants;
    }

    void markUpsampling(String output) {
        upsampling.add(output);
    }

    boolean isUpsampling(String output) {
        return upsampling.contains(output);
    }

    String fresh(String base) {
        return names.fresh(base);
    }

    /** Adds a Constant node holding {@code value} to {@code out} and returns the name of its output. */
    String constant(String hint, TensorProto value, List<NodeProto> out) {
        String name = fresh(hint);
        createdConstants.add(name);
        out.add(Nodes.node("Constant", fresh(name + "_node"), List.of(), List.of(name),
                Nodes.attr("value", value.toBuilder().setName(name).build())));
        return name;
    }

    /** The value of an initializer or Constant node visible from the current graph. */
    Optional<TensorProto> constantValue(String value) {
        if (value.isEmpty()) {
            return Optional.empty();
        }
        var it = scopes.descendingIterator();
        while (it.hasNext()) {
            GraphProto.Builder graph = it.next();
            for (TensorProto t : graph.getInitializerList()) {
                if (t.getName().equals(value)) {
                    return Optional.of(t);
                }
            }
            for (NodeProto n : graph.getNodeList()) {
                if (Weights.isConstantNode(n) && n.getOutputList().equals(List.of(value))) {
                    return Weights.constantValue(n);
                }
            }
        }
        return Optional.empty();
    }

    /** Element type and rank of a value: declared in a visible graph, or inferred by ONNX Runtime for the main graph. */
    Optional<ValueTypes.TensorType> typeOf(String value) {
        var it = scopes.descendingIterator();
        while (it.hasNext()) {
            ValueTypes.TensorType declared = ValueTypes.declared(it.next()).get(value);
            if (declared != null) {
                return Optional.of(declared);
            }
        }
        if (inferred == null) {
            try {
                inferred = ValueTypes.infer(original);
            } catch (ModelPressException ortCannotLoadIt) {
                inferred = Map.of();
            }
        }
        return Optional.ofNullable(inferred.get(value));
    }

    float[] floats(TensorProto constant) {
        return original.floats(constant);
    }

    DataType elementType(NodeProto node, String value) {
        return typeOf(value).map(ValueTypes.TensorType::elementType)
                .orElseThrow(() -> unsupported(node, "the element type of '" + value + "' is not declared and could not be inferred"));
    }

    /** True when a node of the current graph (or a subgraph below it) reads the value, or the graph outputs it. */
    boolean isUsed(String value) {
        if (value.isEmpty()) {
            return false;
        }
        GraphProto.Builder graph = scopes.getLast();
        if (graph.getOutputList().stream().anyMatch(o -> o.getName().equals(value))) {
            return true;
        }
        for (NodeProto n : graph.getNodeList()) {
            if (n.getInputList().contains(value) || GraphIndex.implicitInputs(n).contains(value)) {
                return true;
            }
        }
        return false;
    }

    ModelPressException unsupported(NodeProto node, String message) {
        return new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, location(node),
                "cannot be converted to opset " + opset + ": " + message);
    }

    String location(NodeProto node) {
        String graph = path().equals("main") ? "" : " in " + path();
        return "node '" + Graphs.nodeLabel(node) + "' (" + node.getOpType() + ")" + graph;
    }
}
