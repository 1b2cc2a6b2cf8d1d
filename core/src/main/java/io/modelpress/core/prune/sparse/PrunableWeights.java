package io.modelpress.core.prune.sparse;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights a sparsity pass may zero: the constant weight input of MatMul (input B), Gemm (input B) and Conv
 * (input W) in the main graph, and - when asked - Gather tables (embeddings). Biases, normalisation parameters and
 * anything computed are never weights here. A tensor qualifies only when every node reading it is a selected node
 * reading it as its weight in the same layout: pruning a tied tensor also changes its other readers.
 */
final class PrunableWeights {
    private PrunableWeights() {
    }

    /** Floating-point types whose zero is all zero bits; their values are zeroed in place. */
    static final Set<DataType> FLOAT_TYPES = Set.of(DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE);

    /**
     * How a weight is read. The tensor, viewed as [outer, length, inner] in stored order, has its reduction axis
     * (what each output sums over) as the middle one: n:m groups run along it. {@code axes} names the tensor axes
     * that make it up (flattened in stored order). For block patterns the tensor is a matrix whose rows are the
     * axes before {@code matrixSplit} and whose columns are the rest.
     */
    record Layout(long outer, long length, long inner, List<Integer> axes, int matrixSplit) {
    }

    /** One prunable tensor and the nodes that read it. {@code layout.length} is 0 for tables (no reduction axis). */
    record Weight(String tensor, String op, List<String> nodes, long[] dims, DataType type, Layout layout) {
        long elements() {
            return Tensors.elementCount(dims, "tensor '" + tensor + "'");
        }

        boolean hasReductionAxis() {
            return layout.length() > 0;
        }
    }

    record Skipped(String node, String op, String tensor, String reason) {
    }

    record Found(List<Weight> weights, List<Skipped> skipped) {
    }

    /** A node that reads a constant as a weight, with how it reads it (null layout with a reason when it cannot). */
    private record Use(NodeProto node, String tensor, Layout layout, String problem) {
    }

    static Found find(OnnxModel model, NodeSelector selector, boolean embeddings) {
        GraphIndex index = new GraphIndex(model.graph());
        Map<String, List<Use>> uses = new LinkedHashMap<>();
        List<Skipped> skipped = new ArrayList<>();
        for (NodeProto node : index.nodes()) {
            int slot = weightSlot(node, embeddings);
            if (slot < 0 || node.getInputCount() <= slot) {
                continue;
            }
            String tensor = node.getInput(slot);
            TensorProto value = model.constant(tensor).orElse(null);
            if (value == null) {
                continue; // a product of two activations (attention scores): nothing stored to prune
            }
            String label = Graphs.nodeLabel(node);
            String problem = selector.exclusionReason(node);
            if (problem == null) {
                problem = typeProblem(value);
            }
            Layout layout = null;
            if (problem == null) {
                layout = layout(node, Tensors.dims(value));
                if (layout == null) {
                    problem = "weight shape " + Arrays.toString(Tensors.dims(value)) + " is not a " + node.getOpType() + " weight this pass handles";
                }
            }
            if (problem == null && readsTwice(node, tensor, slot)) {
                problem = "reads '" + tensor + "' also as an activation";
            }
            uses.computeIfAbsent(tensor, k -> new ArrayList<>()).add(new Use(node, tensor, layout, problem));
            if (problem != null) {
                skipped.add(new Skipped(label, node.getOpType(), tensor, problem));
            }
        }
        List<Weight> weights = new ArrayList<>();
        for (Map.Entry<String, List<Use>> entry : uses.entrySet()) {
            String tensor = entry.getKey();
            List<Use> readers = entry.getValue();
            if (readers.stream().anyMatch(u -> u.problem() != null)) {
                for (Use u : readers) {
                    if (u.problem() == null) {
                        skipped.add(new Skipped(Graphs.nodeLabel(u.node()), u.node().getOpType(), tensor,
                                "shares '" + tensor + "' with a node whose weight is not pruned"));
                    }
                }
                continue;
            }
            String problem = sharingProblem(index, tensor, readers);
            if (problem != null) {
                for (Use u : readers) {
                    skipped.add(new Skipped(Graphs.nodeLabel(u.node()), u.node().getOpType(), tensor, problem));
                }
                continue;
            }
            TensorProto value = model.constant(tensor).orElseThrow();
            weights.add(new Weight(tensor, readers.get(0).node().getOpType(),
                    readers.stream().map(u -> Graphs.nodeLabel(u.node())).toList(),
                    Tensors.dims(value), DataType.of(value), readers.get(0).layout()));
        }
        return new Found(weights, skipped);
    }

    /** Input position of the weight, or -1 when the node is not one whose weight this pass prunes. */
    private static int weightSlot(NodeProto node, boolean embeddings) {
        if (!ModelValidator.isDefaultDomain(node.getDomain())) {
            return -1;
        }
        return switch (node.getOpType()) {
            case "MatMul", "Gemm", "Conv" -> 1;
            case "Gather" -> embeddings ? 0 : -1;
            default -> -1;
        };
    }

    private static String typeProblem(TensorProto value) {
        DataType type = DataType.of(value);
        if (!FLOAT_TYPES.contains(type)) {
            return "weight is " + type.displayName() + ", not floating point";
        }
        if (Tensors.expectedBytes(value) > Integer.MAX_VALUE - 8) {
            return "weight is larger than 2 GiB";
        }
        return null;
    }

    private static Layout layout(NodeProto node, long[] dims) {
        int rank = dims.length;
        switch (node.getOpType()) {
            case "MatMul": {
                if (rank < 2) {
                    return null;
                }
                long outer = product(dims, 0, rank - 2);
                return new Layout(outer, dims[rank - 2], dims[rank - 1], List.of(rank - 2), rank - 1);
            }
            case "Gemm": {
                if (rank != 2) {
                    return null;
                }
                boolean transB = Nodes.intAttribute(node, "transB", 0) != 0;
                return transB ? new Layout(dims[0], dims[1], 1, List.of(1), 1) : new Layout(1, dims[0], dims[1], List.of(0), 1);
            }
            case "Conv": {
                if (rank < 3) {
                    return null;
                }
                List<Integer> axes = new ArrayList<>();
                for (int a = 1; a < rank; a++) {
                    axes.add(a);
                }
                return new Layout(dims[0], product(dims, 1, rank), 1, axes, 1);
            }
            case "Gather": {
                // a table: rows looked up, nothing summed; only magnitude and block patterns apply
                if (rank != 2 || Nodes.intAttribute(node, "axis", 0) != 0) {
                    return null;
                }
                return new Layout(dims[0], 0, dims[1], List.of(), 1);
            }
            default:
                return null;
        }
    }

    private static boolean readsTwice(NodeProto node, String tensor, int slot) {
        for (int i = 0; i < node.getInputCount(); i++) {
            if (i != slot && node.getInput(i).equals(tensor)) {
                return true;
            }
        }
        return false;
    }

    /** Why a tensor read by several candidate nodes cannot be pruned for all of them, or null. */
    private static String sharingProblem(GraphIndex index, String tensor, List<Use> readers) {
        if (index.isGraphOutput(tensor)) {
            return "'" + tensor + "' is also a model output";
        }
        for (int position : index.consumersOf(tensor)) {
            NodeProto consumer = index.node(position);
            if (readers.stream().noneMatch(u -> u.node() == consumer)) {
                return "'" + tensor + "' is also read by " + consumer.getOpType() + " node '" + Graphs.nodeLabel(consumer) + "'";
            }
        }
        Layout first = readers.get(0).layout();
        for (Use u : readers) {
            if (!u.layout().equals(first) || !u.node().getOpType().equals(readers.get(0).node().getOpType())) {
                return "'" + tensor + "' is read in different layouts (" + readers.get(0).node().getOpType() + " and "
                        + u.node().getOpType() + ")";
            }
        }
        return null;
    }

    private static long product(long[] dims, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            p = Math.multiplyExact(p, dims[i]);
        }
        return p;
    }
}
