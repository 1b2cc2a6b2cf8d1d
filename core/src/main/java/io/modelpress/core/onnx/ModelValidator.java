package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.util.HashSet;
import java.util.Set;

/**
 * Structural checks on a parsed model: versions, limits, tensor sizes against declared shapes, and that every value a
 * node reads is defined. Each failure names the problem and its place.
 */
public final class ModelValidator {
    public static final long MIN_IR_VERSION = 3;
    public static final long MAX_IR_VERSION = 11;
    public static final long MIN_OPSET = 7;
    public static final long MAX_OPSET = 24;

    private ModelValidator() {
    }

    public static void validate(ModelProto model, ExternalData external, ModelLimits limits) {
        checkVersions(model);
        GraphProto graph = model.getGraph();
        long nodes = Graphs.nodeCount(graph);
        if (nodes > limits.maxNodes()) {
            throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, "graph '" + graph.getName() + "'",
                    "has " + nodes + " nodes, more than the limit of " + limits.maxNodes());
        }
        long[] total = {0};
        Graphs.forEachTensor(graph, (path, owner, tensor) -> {
            String where = owner == null ? "initializer '" + tensor.getName() + "' in " + path
                    : "tensor attribute of node '" + Graphs.nodeLabel(owner) + "' in " + path;
            long bytes;
            try {
                bytes = Tensors.expectedBytes(tensor);
            } catch (ModelPressException e) {
                throw e.at(where);
            }
            if (bytes > limits.maxTensorBytes()) {
                throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, where, "declares " + bytes
                        + " bytes (" + Tensors.dims(tensor).length + "-D " + DataType.of(tensor).displayName()
                        + "), more than the limit of " + limits.maxTensorBytes());
            }
            total[0] += Math.max(bytes, 0);
            if (total[0] > limits.maxTotalTensorBytes()) {
                throw new ModelPressException(ErrorCode.LIMIT_EXCEEDED, where,
                        "the model's tensors exceed the total limit of " + limits.maxTotalTensorBytes() + " bytes");
            }
            try {
                Tensors.checkSize(tensor, external);
            } catch (ModelPressException e) {
                throw e.at(where);
            }
        });
        checkDefinitions("main", graph, Set.of());
    }

    private static void checkVersions(ModelProto model) {
        long ir = model.getIrVersion();
        if (ir < MIN_IR_VERSION || ir > MAX_IR_VERSION) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_IR_VERSION, "model",
                    "IR version " + ir + " is not supported (supported: " + MIN_IR_VERSION + " to " + MAX_IR_VERSION + ")");
        }
        boolean hasDefault = false;
        for (OperatorSetIdProto opset : model.getOpsetImportList()) {
            if (isDefaultDomain(opset.getDomain())) {
                hasDefault = true;
                long v = opset.getVersion();
                if (v < MIN_OPSET || v > MAX_OPSET) {
                    throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "model", "opset " + v
                            + " of the default ONNX domain is not supported (supported: " + MIN_OPSET + " to " + MAX_OPSET + ")");
                }
            }
        }
        if (!hasDefault && usesDefaultDomain(model.getGraph())) {
            throw new ModelPressException(ErrorCode.UNSUPPORTED_OPSET, "model",
                    "uses ONNX operators but imports no opset for the default domain");
        }
    }

    public static boolean isDefaultDomain(String domain) {
        return domain.isEmpty() || domain.equals("ai.onnx");
    }

    private static boolean usesDefaultDomain(GraphProto graph) {
        boolean[] found = {false};
        Graphs.forEachGraph(graph, (p, g) -> {
            for (NodeProto n : g.getNodeList()) {
                found[0] |= isDefaultDomain(n.getDomain());
            }
        });
        return found[0];
    }

    /** Every node input must be a graph input, an initializer, an earlier node's output, or an outer-scope value. */
    private static void checkDefinitions(String path, GraphProto graph, Set<String> outer) {
        Set<String> defined = new HashSet<>(outer);
        for (ValueInfoProto input : graph.getInputList()) {
            defined.add(input.getName());
        }
        for (TensorProto init : graph.getInitializerList()) {
            defined.add(init.getName());
        }
        for (var sparse : graph.getSparseInitializerList()) {
            defined.add(sparse.getValues().getName());
        }
        Set<String> produced = new HashSet<>();
        for (NodeProto node : graph.getNodeList()) {
            for (String out : node.getOutputList()) {
                if (!out.isEmpty() && !produced.add(out)) {
                    throw new ModelPressException(ErrorCode.INVALID_GRAPH, "node '" + Graphs.nodeLabel(node) + "' in " + path,
                            "output '" + out + "' is produced by more than one node");
                }
            }
        }
        Set<String> available = new HashSet<>(defined);
        available.addAll(produced);
        for (NodeProto node : graph.getNodeList()) {
            for (String in : node.getInputList()) {
                if (!in.isEmpty() && !available.contains(in)) {
                    throw new ModelPressException(ErrorCode.INVALID_GRAPH, "node '" + Graphs.nodeLabel(node) + "' in " + path,
                            "reads '" + in + "', which no graph input, initializer or node defines");
                }
            }
            for (AttributeProto attribute : node.getAttributeList()) {
                String childPath = path + "/" + Graphs.nodeLabel(node) + "." + attribute.getName();
                if (attribute.hasG()) {
                    checkDefinitions(childPath, attribute.getG(), available);
                }
                for (GraphProto g : attribute.getGraphsList()) {
                    checkDefinitions(childPath, g, available);
                }
            }
        }
        for (ValueInfoProto output : graph.getOutputList()) {
            if (!available.contains(output.getName())) {
                throw new ModelPressException(ErrorCode.INVALID_GRAPH, "graph output '" + output.getName() + "' in " + path,
                        "is not produced by any node, input or initializer");
            }
        }
    }
}
