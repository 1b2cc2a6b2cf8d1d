package io.modelpress.core.stats;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.ShapeInference;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Multiply-accumulate counts of the compute-heavy operators, one rule per operator type. Quantized and fused forms
 * count the same MACs as their float originals, so a model and its compressed version compare like for like.
 */
final class MacCounter {
    /** Returns a node's MACs given known shapes, or empty when a needed shape is unknown. */
    interface Rule {
        OptionalLong macs(NodeProto node, ShapeInference.Shapes shapes);

        /** Values whose shapes this rule needs. */
        List<String> needs(NodeProto node);
    }

    /** MACs of a convolution: every output element sums over one filter (Cin/group x kernel). */
    private static Rule conv(int weightInput) {
        return new Rule() {
            public OptionalLong macs(NodeProto n, ShapeInference.Shapes s) {
                long[] out = s.of(output(n, 0));
                long[] w = s.of(input(n, weightInput));
                return out == null || w == null ? OptionalLong.empty() : OptionalLong.of(product(out, 0) * product(w, 1));
            }

            public List<String> needs(NodeProto n) {
                return List.of(output(n, 0), input(n, weightInput));
            }
        };
    }

    /** MACs of a transposed convolution: every input element scatters over one filter. */
    private static final Rule CONV_TRANSPOSE = new Rule() {
        public OptionalLong macs(NodeProto n, ShapeInference.Shapes s) {
            long[] in = s.of(input(n, 0));
            long[] w = s.of(input(n, 1));
            return in == null || w == null ? OptionalLong.empty() : OptionalLong.of(product(in, 0) * product(w, 1));
        }

        public List<String> needs(NodeProto n) {
            return List.of(input(n, 0), input(n, 1));
        }
    };

    /** MACs of a matrix product: every output element sums over K, the last axis of A. */
    private static Rule matmul(int aInput) {
        return new Rule() {
            public OptionalLong macs(NodeProto n, ShapeInference.Shapes s) {
                long[] out = s.of(output(n, 0));
                long[] a = s.of(input(n, aInput));
                if (out == null || a == null || a.length == 0) {
                    return OptionalLong.empty();
                }
                return OptionalLong.of(product(out, 0) * a[a.length - 1]);
            }

            public List<String> needs(NodeProto n) {
                return List.of(output(n, 0), input(n, aInput));
            }
        };
    }

    private static final Rule GEMM = new Rule() {
        public OptionalLong macs(NodeProto n, ShapeInference.Shapes s) {
            long[] out = s.of(output(n, 0));
            long[] a = s.of(input(n, 0));
            if (out == null || a == null || a.length != 2) {
                return OptionalLong.empty();
            }
            long k = Nodes.intAttribute(n, "transA", 0) == 0 ? a[1] : a[0];
            return OptionalLong.of(product(out, 0) * k);
        }

        public List<String> needs(NodeProto n) {
            return List.of(output(n, 0), input(n, 0));
        }
    };

    private static final Rule MATMUL_NBITS = new Rule() {
        public OptionalLong macs(NodeProto n, ShapeInference.Shapes s) {
            long[] out = s.of(output(n, 0));
            long k = Nodes.intAttribute(n, "K", -1);
            return out == null || k < 0 ? OptionalLong.empty() : OptionalLong.of(product(out, 0) * k);
        }

        public List<String> needs(NodeProto n) {
            return List.of(output(n, 0));
        }
    };

    /** Keyed by "domain:OpType" with the default domain written as "". */
    static final Map<String, Rule> RULES = Map.ofEntries(
            Map.entry(":Conv", conv(1)),
            Map.entry(":ConvInteger", conv(1)),
            Map.entry(":QLinearConv", conv(3)),
            Map.entry("com.microsoft:FusedConv", conv(1)),
            Map.entry(":ConvTranspose", CONV_TRANSPOSE),
            Map.entry(":MatMul", matmul(0)),
            Map.entry(":MatMulInteger", matmul(0)),
            Map.entry(":QLinearMatMul", matmul(0)),
            Map.entry("com.microsoft:DynamicQuantizeMatMul", matmul(0)),
            Map.entry("com.microsoft:MatMulIntegerToFloat", matmul(0)),
            Map.entry("com.microsoft:FusedMatMul", matmul(0)),
            Map.entry(":Gemm", GEMM),
            Map.entry("com.microsoft:MatMulNBits", MATMUL_NBITS));

    /**
     * Operators that multiply-accumulate but have no rule here (recurrent cells, attention kernels, Einsum). A model
     * using them gets no complete MAC count: they are reported as not counted, never as zero.
     */
    static final Set<String> WITHOUT_RULE = Set.of(
            ":Einsum", ":RNN", ":LSTM", ":GRU", ":DeformConv", ":Attention",
            "com.microsoft:Attention", "com.microsoft:QAttention", "com.microsoft:MultiHeadAttention",
            "com.microsoft:GroupQueryAttention", "com.microsoft:PackedAttention", "com.microsoft:PackedMultiHeadAttention",
            "com.microsoft:DecoderAttention", "com.microsoft:DecoderMaskedMultiHeadAttention",
            "com.microsoft:DecoderMaskedSelfAttention", "com.microsoft:LongformerAttention", "com.microsoft:SparseAttention",
            "com.microsoft:QOrderedAttention", "com.microsoft:QOrderedMatMul", "com.microsoft:DynamicQuantizeLSTM",
            "com.microsoft:FusedGemm", "com.microsoft:QGemm", "com.microsoft:NhwcConv", "com.microsoft:MatMulBnb4",
            "com.microsoft:MatMulFpQ4", "com.microsoft:MoE", "com.microsoft:QMoE");

    static Rule ruleFor(NodeProto node) {
        return RULES.get(key(node));
    }

    /** Whether the node multiply-accumulates: it has a rule, or is one of the operators without one. */
    static boolean hasMacs(NodeProto node) {
        return RULES.containsKey(key(node)) || WITHOUT_RULE.contains(key(node));
    }

    private static String key(NodeProto node) {
        String domain = node.getDomain().equals("ai.onnx") ? "" : node.getDomain();
        return domain + ":" + node.getOpType();
    }

    private MacCounter() {
    }

    static long product(long[] dims, int from) {
        long p = 1;
        for (int i = from; i < dims.length; i++) {
            p = Math.multiplyExact(p, Math.max(dims[i], 0));
        }
        return p;
    }

    /** A node's input by position, or "" (a value that has no shape) when the node has fewer: models can be malformed. */
    private static String input(NodeProto node, int i) {
        return i < node.getInputCount() ? node.getInput(i) : "";
    }

    private static String output(NodeProto node, int i) {
        return i < node.getOutputCount() ? node.getOutput(i) : "";
    }
}
