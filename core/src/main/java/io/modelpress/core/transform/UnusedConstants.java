package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Weights;

import java.util.HashSet;
import java.util.Set;

/**
 * Removes main-graph constants (initializers and Constant nodes) that nothing reads any more after an edit. A value
 * read by a subgraph, or listed as a graph output, counts as read.
 */
public final class UnusedConstants {
    private UnusedConstants() {
    }

    /** @return the number of constants removed */
    public static int remove(OnnxModel model) {
        GraphProto.Builder graph = model.graph();
        GraphIndex index = new GraphIndex(graph);
        Set<String> unused = new HashSet<>();
        graph.getInitializerList().forEach(t -> {
            if (index.consumersOf(t.getName()).isEmpty() && !index.isGraphOutput(t.getName())) {
                unused.add(t.getName());
            }
        });
        for (NodeProto node : graph.getNodeList()) {
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1 && index.consumersOf(node.getOutput(0)).isEmpty()
                    && !index.isGraphOutput(node.getOutput(0))) {
                unused.add(node.getOutput(0));
            }
        }
        if (unused.isEmpty()) {
            return 0;
        }
        for (int i = graph.getInitializerCount() - 1; i >= 0; i--) {
            if (unused.contains(graph.getInitializer(i).getName())) {
                graph.removeInitializer(i);
            }
        }
        for (int i = graph.getNodeCount() - 1; i >= 0; i--) {
            NodeProto node = graph.getNode(i);
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1 && unused.contains(node.getOutput(0))) {
                graph.removeNode(i);
            }
        }
        // models from before IR 4 also list initializers as graph inputs
        for (int i = graph.getInputCount() - 1; i >= 0; i--) {
            if (unused.contains(graph.getInput(i).getName())) {
                graph.removeInput(i);
            }
        }
        for (int i = graph.getValueInfoCount() - 1; i >= 0; i--) {
            if (unused.contains(graph.getValueInfo(i).getName())) {
                graph.removeValueInfo(i);
            }
        }
        return unused.size();
    }
}
