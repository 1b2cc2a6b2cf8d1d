package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.Pass;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.NodeSelector;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Merges MatMuls that read the same activation with constant weights (attention's Q, K and V projections, gated
 * FFNs) into one MatMul over the concatenated weights, followed by the concatenated bias Add and a Split. Exact in
 * float; with per-channel weight scales it quantizes exactly as the separate MatMuls would, but ONNX Runtime runs one
 * integer kernel (with the activation quantized once, inside it) instead of several small ones - which is what small
 * batches pay for.
 */
public final class SiblingMatMulFusion implements Pass<SiblingMatMulFusion.Options> {
    public static final String NAME = "sibling_matmuls";

    /**
     * @param selector  the MatMuls that may be merged
     * @param keepAlone names of MatMuls to leave as they are (read when the pass runs: earlier passes may add to it)
     */
    public record Options(NodeSelector selector, Set<String> keepAlone) {
    }

    private final Options options;

    public SiblingMatMulFusion(Options options) {
        this.options = options;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Options options() {
        return options;
    }

    /** Changes: the MatMuls merged away. */
    @Override
    public PassResult apply(OnnxModel model) {
        int merged = merge(model, options.selector(), options.keepAlone());
        return PassResult.changed(NAME, merged, merged > 0
                ? merged + " MatMuls merged into the MatMul that shares their input (one integer kernel each)" : null);
    }

    /** One MatMul that may join a group, with the bias Add that follows it, if any. */
    private record Member(int matMul, NodeProto node, TensorProto weight, int addPosition, TensorProto bias, String output) {
        long columns() {
            return weight.getDims(1);
        }
    }

    /** @return the number of MatMuls merged away */
    private static int merge(OnnxModel model, NodeSelector selector, Set<String> keepAlone) {
        GraphEditor editor = new GraphEditor(model);
        GraphIndex index = editor.index();
        Map<String, List<Member>> byInput = new LinkedHashMap<>();
        for (int i = 0; i < index.nodes().size(); i++) {
            member(model, index, i, selector, keepAlone).ifPresent(m -> byInput
                    .computeIfAbsent(m.node().getInput(0) + (m.bias() == null ? "" : "+bias"), k -> new ArrayList<>()).add(m));
        }
        int merged = 0;
        for (List<Member> group : byInput.values()) {
            if (group.size() >= 2 && sameRows(group)) {
                fuse(model, editor, group);
                merged += group.size() - 1;
            }
        }
        editor.apply();
        return merged;
    }

    private static Optional<Member> member(OnnxModel model, GraphIndex index, int position, NodeSelector selector, Set<String> keepAlone) {
        NodeProto node = index.node(position);
        if (!node.getOpType().equals("MatMul") || !ModelValidator.isDefaultDomain(node.getDomain()) || node.getInputCount() != 2
                || !selector.selects(node) || keepAlone.contains(Graphs.nodeLabel(node)) || index.isGraphOutput(node.getOutput(0))) {
            return Optional.empty();
        }
        Optional<TensorProto> weight = Weights.find(model, node.getInput(1));
        if (weight.isEmpty() || DataType.of(weight.get()) != DataType.FLOAT || weight.get().getDimsCount() != 2
                || index.consumersOf(node.getInput(1)).size() != 1 || Weights.find(model, node.getInput(0)).isPresent()) {
            return Optional.empty();
        }
        List<Integer> consumers = index.consumersOf(node.getOutput(0));
        if (consumers.size() == 1) {
            NodeProto add = index.node(consumers.get(0));
            if (add.getOpType().equals("Add") && ModelValidator.isDefaultDomain(add.getDomain()) && add.getInputCount() == 2) {
                String other = add.getInput(0).equals(node.getOutput(0)) ? add.getInput(1) : add.getInput(0);
                Optional<TensorProto> bias = Weights.find(model, other);
                if (bias.isPresent() && DataType.of(bias.get()) == DataType.FLOAT && bias.get().getDimsCount() == 1
                        && bias.get().getDims(0) == weight.get().getDims(1) && index.consumersOf(other).size() == 1
                        && !index.isGraphOutput(add.getOutput(0))) {
                    return Optional.of(new Member(position, node, weight.get(), consumers.get(0), bias.get(), add.getOutput(0)));
                }
            }
        }
        return Optional.of(new Member(position, node, weight.get(), -1, null, node.getOutput(0)));
    }

    private static boolean sameRows(List<Member> group) {
        long rows = group.get(0).weight().getDims(0);
        return group.stream().allMatch(m -> m.weight().getDims(0) == rows);
    }

    private static void fuse(OnnxModel model, GraphEditor editor, List<Member> group) {
        int rows = (int) group.get(0).weight().getDims(0);
        int total = (int) group.stream().mapToLong(Member::columns).sum();
        float[] weights = new float[rows * total];
        float[] biases = group.get(0).bias() == null ? null : new float[total];
        int offset = 0;
        for (Member m : group) {
            int columns = (int) m.columns();
            float[] w = model.floats(m.weight());
            for (int r = 0; r < rows; r++) {
                System.arraycopy(w, r * columns, weights, r * total + offset, columns);
            }
            if (biases != null) {
                System.arraycopy(model.floats(m.bias()), 0, biases, offset, columns);
            }
            editor.mayBeUnused(m.node().getInput(1));
            if (m.bias() != null) {
                editor.mayBeUnused(m.bias().getName());
            }
            offset += columns;
        }
        String base = Graphs.nodeLabel(group.get(0).node()) + "_siblings";
        String weightName = editor.freshName(base + "_weight");
        editor.addInitializer(Tensors.ofFloats(weightName, new long[] {rows, total}, weights));
        List<NodeProto> nodes = new ArrayList<>();
        String product = editor.freshName(base + "_product");
        nodes.add(Nodes.node("MatMul", editor.freshName(base + "_MatMul"), List.of(group.get(0).node().getInput(0), weightName), List.of(product)));
        String joined = product;
        if (biases != null) {
            String biasName = editor.freshName(base + "_bias");
            editor.addInitializer(Tensors.ofFloats(biasName, new long[] {total}, biases));
            joined = editor.freshName(base + "_sum");
            nodes.add(Nodes.node("Add", editor.freshName(base + "_Add"), List.of(product, biasName), List.of(joined)));
        }
        long[] sizes = group.stream().mapToLong(Member::columns).toArray();
        List<String> outputs = group.stream().map(Member::output).toList();
        String splitName = editor.freshName(base + "_Split");
        if (model.opset("") >= 13) {
            String sizesName = editor.freshName(base + "_split_sizes");
            editor.addInitializer(Tensors.ofLongs(sizesName, new long[] {sizes.length}, sizes));
            nodes.add(Nodes.node("Split", splitName, List.of(joined, sizesName), outputs, Nodes.attr("axis", -1L)));
        } else {
            nodes.add(Nodes.node("Split", splitName, List.of(joined), outputs, Nodes.attr("axis", -1L), Nodes.attr("split", sizes)));
        }
        // the merged nodes take the place of the first member: its input exists there, and every consumer of the
        // members' outputs comes later
        int first = group.stream().mapToInt(Member::matMul).min().orElseThrow();
        for (Member m : group) {
            editor.replace(m.matMul(), m.matMul() == first ? nodes : List.of());
            if (m.addPosition() >= 0) {
                editor.replace(m.addPosition(), List.of());
            }
        }
    }
}
