package io.modelpress.core.lowrank;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.ModelValidator;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.stats.ModelFootprint;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Replaces the constant weight W [K x N] of a MatMul or Gemm by two smaller ones, [K x r] then [r x N], from its
 * truncated singular value decomposition, wherever that lowers the multiply-accumulates: r (K + N) &lt; K N, i.e.
 * r &lt; K N / (K + N). The first product takes the original input, the second produces the original output (name,
 * type and shape), so the model's interface and everything around the node stay as they were.
 */
public final class LowRank {
    private LowRank() {
    }

    private static final long MAX_SIDE = 16_384;

    public static LowRankReport factorize(OnnxModel model, LowRankOptions options) {
        LowRankReport report = new LowRankReport(options);
        ModelFootprint before = ModelFootprint.of(model);
        GraphEditor editor = new GraphEditor(model);
        Map<String, TruncatedSvd> decompositions = new HashMap<>();
        Map<String, String[]> factorNames = new HashMap<>();
        boolean changed = false;
        for (int position = 0; position < editor.index().nodes().size(); position++) {
            List<NodeProto> replacement = rewrite(model, editor.index().node(position), options, report, editor, decompositions, factorNames);
            if (replacement != null) {
                editor.replace(position, replacement);
                changed = true;
            }
        }
        if (changed) {
            editor.apply();
            GraphEditor.removeUnusedConstants(model);
            if (model.proto().getIrVersion() < 4) {
                // IR 3 wants every initializer listed as a graph input; IR 4 reads the existing ones the same way
                model.proto().setIrVersion(4);
            }
        }
        report.footprints(before, ModelFootprint.of(model));
        return report;
    }

    /** The nodes replacing {@code node}, or null to keep it. */
    private static List<NodeProto> rewrite(OnnxModel model, NodeProto node, LowRankOptions options, LowRankReport report,
                                           GraphEditor editor, Map<String, TruncatedSvd> decompositions,
                                           Map<String, String[]> factorNames) {
        boolean gemm = node.getOpType().equals("Gemm");
        if (!ModelValidator.isDefaultDomain(node.getDomain()) || !(gemm || node.getOpType().equals("MatMul"))
                || node.getInputCount() < 2) {
            return null;
        }
        String weightName = node.getInput(1);
        TensorProto weight = model.constant(weightName).orElse(null);
        if (weight == null) {
            return null; // a product of two activations: nothing stored to factorize
        }
        String label = Graphs.nodeLabel(node);
        String problem = options.selector().exclusionReason(node);
        long[] dims = Tensors.dims(weight);
        DataType type = DataType.of(weight);
        if (problem == null && dims.length != 2) {
            problem = "weight is " + dims.length + "-D; only 2-D weights are factorized";
        }
        if (problem == null && type != DataType.FLOAT && type != DataType.FLOAT16 && type != DataType.BFLOAT16) {
            problem = "weight is " + type.displayName() + "; float32, float16 and bfloat16 weights are factorized";
        }
        if (problem == null && (dims[0] > MAX_SIDE || dims[1] > MAX_SIDE)) {
            problem = "weight is larger than " + MAX_SIDE + " on a side";
        }
        if (problem == null && gemm && model.opset("") < 7) {
            problem = "Gemm before opset 7 (broadcast attribute) is not rewritten";
        }
        if (problem == null && node.getInput(0).equals(weightName)) {
            problem = "reads its weight also as its input";
        }
        if (problem != null) {
            report.skipped(new LowRankReport.Skipped(label, node.getOpType(), weightName, problem));
            return null;
        }
        boolean transposed = gemm && Nodes.intAttribute(node, "transB", 0) != 0;
        int k = (int) (transposed ? dims[1] : dims[0]);
        int n = (int) (transposed ? dims[0] : dims[1]);
        int fullRank = Math.min(k, n);
        double breakEven = (double) k * n / (k + n);
        int rank = -1;
        if (options.rankRatio().isPresent()) {
            rank = (int) Math.max(1, Math.round(options.rankRatio().getAsDouble() * fullRank));
            if (options.onlyWhereFewerMacs() && !lowersMacs(rank, k, n)) {
                report.skipped(new LowRankReport.Skipped(label, node.getOpType(), weightName, noGain(rank, breakEven)));
                return null;
            }
        }
        String key = weightName + (transposed ? "^T" : "");
        TruncatedSvd svd = decompositions.computeIfAbsent(key, x -> TruncatedSvd.of(matrix(model, weight, transposed), k, n));
        if (rank < 0) {
            rank = svd.rankForEnergy(options.energy().getAsDouble());
            if (options.onlyWhereFewerMacs() && !lowersMacs(rank, k, n)) {
                report.skipped(new LowRankReport.Skipped(label, node.getOpType(), weightName, noGain(rank, breakEven)
                        + "; energy " + options.energy().getAsDouble() + " needs rank " + rank + " of " + fullRank));
                return null;
            }
        }
        final int r = rank;
        String[] factors = factorNames.computeIfAbsent(key + "|" + r, x -> addFactors(editor, weightName, type, svd, k, n, r));
        double energy = svd.retainedEnergy(r);
        report.factorized(new LowRankReport.Factorized(label, node.getOpType(), weightName, k, n, r, energy,
                Math.sqrt(Math.max(0, 1 - energy))));
        String middle = editor.freshName(node.getOutput(0) + "_lowrank");
        String first = editor.freshName(label + "_lowrank_a");
        String second = editor.freshName(label + "_lowrank_b");
        if (!gemm) {
            return List.of(Nodes.node("MatMul", first, List.of(node.getInput(0), factors[0]), List.of(middle)),
                    node.toBuilder().setName(second).setInput(0, middle).setInput(1, factors[1]).build());
        }
        return gemmPair(model, node, editor, factors, middle, first, second, r);
    }

    private static boolean lowersMacs(long rank, long k, long n) {
        return rank * (k + n) < k * n;
    }

    private static String noGain(int rank, double breakEven) {
        return String.format(java.util.Locale.ROOT, "rank %d would not lower MACs (needs rank below K*N/(K+N) = %.1f)", rank, breakEven);
    }

    /**
     * Y = alpha op(A) W + beta C becomes H = alpha op(A) W1, then Y = H W2 + beta C: the first Gemm keeps transA and
     * alpha, the second keeps C and beta. Before opset 11 Gemm needs a C, so the first gets a zero bias.
     */
    private static List<NodeProto> gemmPair(OnnxModel model, NodeProto node, GraphEditor editor, String[] factors,
                                            String middle, String first, String second, int rank) {
        List<String> firstInputs = new ArrayList<>(List.of(node.getInput(0), factors[0]));
        if (model.opset("") < 11) {
            String zeros = editor.freshName(first + "_zero_bias");
            editor.addInitializer(Tensors.ofFloats(zeros, new long[] {rank}, new float[rank]));
            firstInputs.add(zeros);
        }
        List<AttributeProto> firstAttributes = new ArrayList<>();
        List<AttributeProto> secondAttributes = new ArrayList<>();
        for (AttributeProto a : node.getAttributeList()) {
            switch (a.getName()) {
                case "alpha", "transA" -> firstAttributes.add(a);
                case "beta" -> secondAttributes.add(a);
                case "transB" -> {
                    // both factors are stored as [K x r] and [r x N]
                }
                default -> {
                    firstAttributes.add(a);
                    secondAttributes.add(a);
                }
            }
        }
        NodeProto a = Nodes.node("Gemm", first, firstInputs, List.of(middle), firstAttributes.toArray(AttributeProto[]::new));
        List<String> secondInputs = new ArrayList<>(List.of(middle, factors[1]));
        if (node.getInputCount() > 2 && !node.getInput(2).isEmpty()) {
            secondInputs.add(node.getInput(2));
        }
        NodeProto b = node.toBuilder().setName(second).clearInput().addAllInput(secondInputs).clearAttribute()
                .addAllAttribute(secondAttributes).build();
        return List.of(a, b);
    }

    /** The weight as a row-major [K x N] matrix (transposing a Gemm's B stored as [N x K]). */
    private static float[] matrix(OnnxModel model, TensorProto weight, boolean transposed) {
        float[] values = model.floats(weight);
        if (!transposed) {
            return values;
        }
        long[] dims = Tensors.dims(weight);
        return Tensors.transpose(values, (int) dims[0], (int) dims[1]);
    }

    private static String[] addFactors(GraphEditor editor, String weightName, DataType type,
                                       TruncatedSvd svd, int k, int n, int rank) {
        TruncatedSvd.Factors f = svd.factors(rank);
        String left = editor.freshName(weightName + "_lowrank_" + rank + "_a");
        String right = editor.freshName(weightName + "_lowrank_" + rank + "_b");
        editor.addInitializer(tensor(left, type, new long[] {k, rank}, f.left()));
        editor.addInitializer(tensor(right, type, new long[] {rank, n}, f.right()));
        return new String[] {left, right};
    }

    private static TensorProto tensor(String name, DataType type, long[] dims, float[] values) {
        return switch (type) {
            case FLOAT -> Tensors.ofFloats(name, dims, values);
            case FLOAT16 -> Tensors.ofFloat16(name, dims, values);
            case BFLOAT16 -> Tensors.ofBfloat16(name, dims, values);
            default -> throw new ModelPressException(ErrorCode.INTERNAL, "tensor '" + name + "'", type.displayName() + " factors");
        };
    }
}
