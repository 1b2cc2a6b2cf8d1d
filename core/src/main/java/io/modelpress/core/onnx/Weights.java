package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;

import java.util.Optional;

/**
 * Constant tensors of the main graph, wherever the exporter put them: initializers, or {@code Constant} nodes
 * (many exported models have no initializers at all). Passes use this to read and replace weights uniformly.
 */
public final class Weights {
    private Weights() {
    }

    public static Optional<TensorProto> find(OnnxModel model, String valueName) {
        GraphProto.Builder graph = model.graph();
        for (TensorProto init : graph.getInitializerList()) {
            if (init.getName().equals(valueName)) {
                return Optional.of(init);
            }
        }
        for (NodeProto node : graph.getNodeList()) {
            if (isConstantNode(node) && node.getOutputCount() == 1 && node.getOutput(0).equals(valueName)) {
                return constantValue(node).map(t -> t.toBuilder().setName(valueName).build());
            }
        }
        return Optional.empty();
    }

    public static boolean isConstant(OnnxModel model, String valueName) {
        return find(model, valueName).isPresent();
    }

    public static boolean isConstantNode(NodeProto node) {
        return node.getOpType().equals("Constant") && ModelValidator.isDefaultDomain(node.getDomain());
    }

    /** The value of a Constant node as a tensor, for every attribute form; empty for sparse or string forms. */
    public static Optional<TensorProto> constantValue(NodeProto node) {
        for (AttributeProto a : node.getAttributeList()) {
            String name = node.getOutputCount() > 0 ? node.getOutput(0) : "";
            switch (a.getName()) {
                case "value":
                    return Optional.of(a.getT());
                case "value_float":
                    return Optional.of(Tensors.scalarFloat(name, a.getF()));
                case "value_floats": {
                    float[] v = new float[a.getFloatsCount()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = a.getFloats(i);
                    }
                    return Optional.of(Tensors.ofFloats(name, new long[] {v.length}, v));
                }
                case "value_int":
                    return Optional.of(Tensors.scalarLong(name, a.getI()));
                case "value_ints":
                    return Optional.of(Tensors.ofLongs(name, new long[] {a.getIntsCount()},
                            a.getIntsList().stream().mapToLong(Long::longValue).toArray()));
                default:
                    break;
            }
        }
        return Optional.empty();
    }

    /**
     * Replaces a constant's value where it is stored (initializer or Constant node). The stored name is kept.
     *
     * @return false when no constant of that name exists
     */
    public static boolean replace(OnnxModel model, String valueName, TensorProto value) {
        GraphProto.Builder graph = model.graph();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            if (graph.getInitializer(i).getName().equals(valueName)) {
                graph.setInitializer(i, value.toBuilder().setName(valueName));
                return true;
            }
        }
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto node = graph.getNode(i);
            if (isConstantNode(node) && node.getOutputCount() == 1 && node.getOutput(0).equals(valueName)) {
                AttributeProto attribute = AttributeProto.newBuilder().setName("value")
                        .setType(AttributeProto.AttributeType.TENSOR).setT(value.toBuilder().setName(valueName)).build();
                graph.setNode(i, node.toBuilder().clearAttribute().addAttribute(attribute));
                return true;
            }
        }
        return false;
    }

    /** Adds a new initializer to the main graph, replacing one of the same name. */
    public static void putInitializer(OnnxModel model, TensorProto value) {
        if (!replaceInitializerOnly(model.graph(), value)) {
            model.graph().addInitializer(value);
        }
    }

    private static boolean replaceInitializerOnly(GraphProto.Builder graph, TensorProto value) {
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            if (graph.getInitializer(i).getName().equals(value.getName())) {
                graph.setInitializer(i, value);
                return true;
            }
        }
        return false;
    }
}
