package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.util.function.UnaryOperator;

/** Walks a graph and every subgraph nested in node attributes (If/Loop/Scan bodies, at any depth). */
public final class Graphs {
    private Graphs() {
    }

    /** Receives each graph with a readable path such as {@code main/If_3.then_branch}. */
    @FunctionalInterface
    public interface GraphVisitor {
        void visit(String path, GraphProto graph);
    }

    /** Receives every stored tensor: initializers and tensors held in node attributes (Constant values). */
    @FunctionalInterface
    public interface TensorVisitor {
        void visit(String graphPath, NodeProto ownerOrNull, TensorProto tensor);
    }

    public static void forEachGraph(GraphProto graph, GraphVisitor visitor) {
        forEachGraph("main", graph, visitor);
    }

    private static void forEachGraph(String path, GraphProto graph, GraphVisitor visitor) {
        visitor.visit(path, graph);
        for (NodeProto node : graph.getNodeList()) {
            for (AttributeProto attribute : node.getAttributeList()) {
                String childPath = path + "/" + nodeLabel(node) + "." + attribute.getName();
                if (attribute.hasG()) {
                    forEachGraph(childPath, attribute.getG(), visitor);
                }
                for (int i = 0; i < attribute.getGraphsCount(); i++) {
                    forEachGraph(childPath + "[" + i + "]", attribute.getGraphs(i), visitor);
                }
            }
        }
    }

    public static void forEachTensor(GraphProto graph, TensorVisitor visitor) {
        forEachGraph(graph, (path, g) -> {
            g.getInitializerList().forEach(t -> visitor.visit(path, null, t));
            for (NodeProto node : g.getNodeList()) {
                for (AttributeProto attribute : node.getAttributeList()) {
                    if (attribute.hasT()) {
                        visitor.visit(path, node, attribute.getT());
                    }
                    attribute.getTensorsList().forEach(t -> visitor.visit(path, node, t));
                }
            }
        });
    }

    /** Replaces every stored tensor (as {@link #forEachTensor} sees them) by {@code f}'s result, in place. */
    public static void rewriteTensors(GraphProto.Builder graph, UnaryOperator<TensorProto> f) {
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            graph.setInitializer(i, f.apply(graph.getInitializer(i)));
        }
        for (int n = 0; n < graph.getNodeCount(); n++) {
            NodeProto.Builder node = graph.getNodeBuilder(n);
            for (int a = 0; a < node.getAttributeCount(); a++) {
                AttributeProto.Builder attribute = node.getAttributeBuilder(a);
                if (attribute.hasT()) {
                    attribute.setT(f.apply(attribute.getT()));
                }
                for (int t = 0; t < attribute.getTensorsCount(); t++) {
                    attribute.setTensors(t, f.apply(attribute.getTensors(t)));
                }
                if (attribute.hasG()) {
                    rewriteTensors(attribute.getGBuilder(), f);
                }
                for (int g = 0; g < attribute.getGraphsCount(); g++) {
                    rewriteTensors(attribute.getGraphsBuilder(g), f);
                }
            }
        }
    }

    /** Total node count, subgraphs included. */
    public static long nodeCount(GraphProto graph) {
        long[] count = {0};
        forEachGraph(graph, (path, g) -> count[0] += g.getNodeCount());
        return count[0];
    }

    /** A human label for a node: its name, or op type and first output when unnamed. */
    public static String nodeLabel(NodeProto node) {
        if (!node.getName().isEmpty()) {
            return node.getName();
        }
        return node.getOpType() + (node.getOutputCount() > 0 ? "(" + node.getOutput(0) + ")" : "");
    }
}
