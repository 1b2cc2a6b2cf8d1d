package io.modelpress.core.graph;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.GraphProtoOrBuilder;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.onnx.Graphs;

import java.util.HashSet;
import java.util.Set;

/**
 * Fresh value and node names for graph edits. ONNX names are model-wide (a subgraph may not reuse an outer name), so
 * every name used anywhere in the model - main graph and nested subgraphs - counts as taken.
 */
public final class UniqueNames {
    private final Set<String> taken = new HashSet<>();

    private UniqueNames() {
    }

    public static UniqueNames of(GraphProtoOrBuilder graph) {
        UniqueNames names = new UniqueNames();
        GraphProto main = graph instanceof GraphProto.Builder b ? b.build() : (GraphProto) graph;
        Graphs.forEachGraph(main, (path, g) -> {
            g.getInputList().stream().map(ValueInfoProto::getName).forEach(names.taken::add);
            g.getOutputList().stream().map(ValueInfoProto::getName).forEach(names.taken::add);
            g.getInitializerList().stream().map(TensorProto::getName).forEach(names.taken::add);
            for (NodeProto node : g.getNodeList()) {
                names.taken.add(node.getName());
                names.taken.addAll(node.getOutputList());
                names.taken.addAll(node.getInputList());
            }
        });
        return names;
    }

    /** {@code base} itself when unused, otherwise {@code base_2}, {@code base_3}, ...; the result is taken from now on. */
    public String fresh(String base) {
        String name = base;
        for (int i = 2; !taken.add(name); i++) {
            name = base + "_" + i;
        }
        return name;
    }
}
