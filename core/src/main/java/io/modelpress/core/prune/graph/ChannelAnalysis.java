package io.modelpress.core.prune.graph;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Builds the {@link ChannelGraph} of a model: walks the main graph in topological order and lets each node's
 * {@link OpHandler} say what happens to the channels it reads. Whatever no handler understands is frozen with a reason,
 * as are channels that reach a graph output (the interface never changes), a subgraph, or a layer the selector
 * excludes.
 */
public final class ChannelAnalysis {
    private ChannelAnalysis() {
    }

    /**
     * @param shapes   concrete dims of the main graph's values (see {@link io.modelpress.core.onnx.ShapeInference})
     * @param handlers the handler for a node, or null when its operator is not understood
     * @param selector which layers (nodes whose weights would be cut) may change
     */
    public static ChannelGraph analyze(OnnxModel model, Map<String, long[]> shapes, Function<NodeProto, OpHandler> handlers,
                                       NodeSelector selector) {
        GraphIndex index = new GraphIndex(model.graph());
        Map<String, TensorProto> constants = constants(model, index);
        ChannelGraph graph = new ChannelGraph();
        for (int position : index.topologicalOrder()) {
            NodeProto node = index.node(position);
            if (Weights.isConstantNode(node)) {
                continue;
            }
            NodeContext context = new NodeContext(graph, model, index, shapes, constants, position);
            OpHandler handler = handlers.apply(node);
            if (handler == null) {
                context.freezeInputs(context.describe() + (node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx")
                        ? "" : " (domain " + node.getDomain() + ")") + " is an operator structured pruning does not understand");
                continue;
            }
            for (String implicit : GraphIndex.implicitInputs(node)) {
                context.freeze(graph.labels(implicit), "read inside a subgraph of " + context.describe());
            }
            handler.propagate(context);
        }
        for (String output : index.graphOutputs()) {
            Labels labels = graph.labels(output);
            if (labels != null) {
                for (int id : labels.ids()) {
                    if (id != Labels.NONE) {
                        graph.freeze(id, "reaches the graph output '" + output + "' (the model's interface stays unchanged)");
                    }
                }
            }
        }
        for (ChannelGraph.Slice slice : graph.slices()) {
            if (slice.role() == ChannelGraph.Role.OTHER || slice.role() == ChannelGraph.Role.BN_SCALE) {
                continue;
            }
            String reason = selector.exclusionReason(index.node(slice.nodeIndex()));
            if (reason != null) {
                for (int id : slice.ids()) {
                    if (id != Labels.NONE) {
                        graph.freeze(id, slice.opType() + " '" + slice.node() + "' is " + reason);
                    }
                }
            }
        }
        graph.finish();
        return graph;
    }

    /**
     * Every constant of the main graph by name: initializers and Constant nodes. Initializers also listed as graph
     * inputs (required before IR 4) count as the weights they are; the cut keeps their input declarations in step.
     */
    static Map<String, TensorProto> constants(OnnxModel model, GraphIndex index) {
        Map<String, TensorProto> constants = new HashMap<>();
        for (TensorProto t : model.graph().getInitializerList()) {
            constants.put(t.getName(), t);
        }
        for (NodeProto node : model.graph().getNodeList()) {
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1) {
                Weights.constantValue(node).ifPresent(t -> constants.put(node.getOutput(0), t.toBuilder().setName(node.getOutput(0)).build()));
            }
        }
        return constants;
    }
}
