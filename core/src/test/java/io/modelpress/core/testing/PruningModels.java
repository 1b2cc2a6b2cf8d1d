package io.modelpress.core.testing;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** CNNs with the structures structured pruning must follow: residual adds, concatenation, depthwise conv, squeeze-excite. */
public final class PruningModels {
    private PruningModels() {
    }

    /** Accumulates initializers and nodes of a graph under construction. */
    public static final class Builder {
        private final Random random;
        private final List<TensorProto> weights = new ArrayList<>();
        private final List<NodeProto> nodes = new ArrayList<>();
        private int counter;

        public Builder(long seed) {
            this.random = new Random(seed);
        }

        public String conv(String name, String x, int in, int out, int kernel, int group) {
            int perGroup = in / group;
            weights.add(Tensors.ofFloats(name + ".weight", new long[] {out, perGroup, kernel, kernel},
                    SmallModels.random(random, out * perGroup * kernel * kernel, (float) Math.sqrt(2.0 / (perGroup * kernel * kernel)))));
            weights.add(Tensors.ofFloats(name + ".bias", new long[] {out}, SmallModels.random(random, out, 0.05f)));
            long pad = kernel / 2;
            nodes.add(Nodes.node("Conv", name, List.of(x, name + ".weight", name + ".bias"), List.of(name), Nodes.attr("kernel_shape", (long) kernel, kernel),
                    Nodes.attr("pads", pad, pad, pad, pad), Nodes.attr("group", (long) group)));
            return name;
        }

        public String batchNorm(String name, String x, int channels) {
            weights.add(Tensors.ofFloats(name + ".gamma", new long[] {channels}, positive(channels, 1f, 0.3f)));
            weights.add(Tensors.ofFloats(name + ".beta", new long[] {channels}, SmallModels.random(random, channels, 0.1f)));
            weights.add(Tensors.ofFloats(name + ".mean", new long[] {channels}, SmallModels.random(random, channels, 0.1f)));
            weights.add(Tensors.ofFloats(name + ".var", new long[] {channels}, positive(channels, 1f, 0.3f)));
            nodes.add(Nodes.node("BatchNormalization", name, List.of(x, name + ".gamma", name + ".beta", name + ".mean", name + ".var"),
                    List.of(name), Nodes.attr("epsilon", 1e-5f)));
            return name;
        }

        public String gemm(String name, String x, int in, int out) {
            weights.add(Tensors.ofFloats(name + ".weight", new long[] {out, in}, SmallModels.random(random, out * in, (float) Math.sqrt(2.0 / in))));
            weights.add(Tensors.ofFloats(name + ".bias", new long[] {out}, SmallModels.random(random, out, 0.05f)));
            nodes.add(Nodes.node("Gemm", name, List.of(x, name + ".weight", name + ".bias"), List.of(name), Nodes.attr("transB", 1L)));
            return name;
        }

        public String constant(TensorProto value) {
            weights.add(value);
            return value.getName();
        }

        /** Any node with one output named after it. */
        public String op(String opType, String name, List<String> inputs, ai.onnx.proto.OnnxMl.AttributeProto... attributes) {
            nodes.add(Nodes.node(opType, name, inputs, List.of(name), attributes));
            return name;
        }

        public String op(String opType, List<String> inputs, ai.onnx.proto.OnnxMl.AttributeProto... attributes) {
            return op(opType, opType.toLowerCase() + "_" + (counter++), inputs, attributes);
        }

        public String matmul(String name, String x, int in, int out) {
            weights.add(Tensors.ofFloats(name + ".weight", new long[] {in, out}, SmallModels.random(random, in * out, (float) Math.sqrt(1.0 / in))));
            weights.add(Tensors.ofFloats(name + ".bias", new long[] {out}, SmallModels.random(random, out, 0.05f)));
            return op("Add", name + ".add", List.of(op("MatMul", name, List.of(x, name + ".weight")), name + ".bias"));
        }

        public ModelProto build(String input, long[] inputDims, String output, int classes) {
            Object[] dims = new Object[inputDims.length];
            dims[0] = "batch";
            for (int i = 1; i < dims.length; i++) {
                dims[i] = inputDims[i];
            }
            GraphProto g = GraphProto.newBuilder().setName("pruning_test")
                    .addInput(Nodes.tensorInfo(input, DataType.FLOAT, dims))
                    .addOutput(Nodes.tensorInfo(output, DataType.FLOAT, "batch", classes))
                    .addAllInitializer(weights).addAllNode(nodes).build();
            return SmallModels.model(g, 17);
        }

        private float[] positive(int n, float mean, float spread) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (mean * Math.exp(random.nextGaussian() * spread));
            }
            return v;
        }
    }

    /**
     * x[N,3,16,16] -> stem conv(16)-BN-Relu = s -> conv(16)-Relu-conv(16) + s (residual) -Relu = r; branch a: conv1x1(16)
     * -Relu; branch b: depthwise 3x3 on r -Relu; Concat(a, b) = c (32) -> squeeze-excite (GAP - conv1x1(8) - Relu -
     * conv1x1(32) - Sigmoid, Mul with c) -> conv1x1(32)-Relu -> GAP -> Flatten -> Gemm(24)-Relu -> Gemm(10).
     *
     * @param unknownOp when true, an Einsum (which pruning does not understand) mixes branch a before the Concat
     */
    public static ModelProto residualCnn(long seed, boolean unknownOp) {
        Builder b = new Builder(seed);
        String s = b.op("Relu", "stem.relu", List.of(b.batchNorm("stem.bn", b.conv("stem.conv", "x", 3, 16, 3, 1), 16)));
        String h = b.op("Relu", "block.relu1", List.of(b.conv("block.conv1", s, 16, 16, 3, 1)));
        String sum = b.op("Add", "block.add", List.of(b.conv("block.conv2", h, 16, 16, 3, 1), s));
        String r = b.op("Relu", "block.relu2", List.of(sum));
        String a = b.op("Relu", "branch_a.relu", List.of(b.conv("branch_a.conv", r, 16, 16, 1, 1)));
        if (unknownOp) {
            a = b.op("Einsum", "branch_a.einsum", List.of(a), Nodes.attr("equation", "nchw->nchw"));
        }
        String d = b.op("Relu", "branch_b.relu", List.of(b.conv("branch_b.dw", r, 16, 16, 3, 16)));
        String c = b.op("Concat", "concat", List.of(a, d), Nodes.attr("axis", 1L));
        String squeezed = b.op("GlobalAveragePool", "se.pool", List.of(c));
        String excite = b.op("Relu", "se.relu", List.of(b.conv("se.reduce", squeezed, 32, 8, 1, 1)));
        String gate = b.op("Sigmoid", "se.gate", List.of(b.conv("se.expand", excite, 8, 32, 1, 1)));
        String m = b.op("Mul", "se.scale", List.of(c, gate));
        String head = b.op("Relu", "head.relu", List.of(b.conv("head.conv", m, 32, 32, 1, 1)));
        String flat = b.op("Flatten", "flatten", List.of(b.op("GlobalAveragePool", "pool", List.of(head))), Nodes.attr("axis", 1L));
        String hidden = b.op("Relu", "fc1.relu", List.of(b.gemm("fc1", flat, 32, 24)));
        b.gemm("logits", hidden, 24, 10);
        return b.build("x", new long[] {1, 3, 16, 16}, "logits", 10);
    }

    /**
     * Three structures pruning must leave whole: a channel shuffle (Reshape to groups, Transpose, Reshape back), a
     * grouped (not depthwise) convolution, and a LayerNormalization over channels. x[N,16,8,8] -> conv a(16) ->
     * shuffle -> conv c(16) -Relu -> conv b(16, group 2) -> conv e(16) -Relu -> GAP -> Flatten -> Gemm fc1(16) ->
     * LayerNormalization -> Relu -> Gemm(10). Only e is free.
     */
    public static ModelProto unprovable(long seed) {
        Builder b = new Builder(seed);
        String a = b.conv("a", "x", 16, 16, 3, 1);
        String grouped = b.op("Reshape", "shuffle.split", List.of(a, b.constant(Tensors.ofLongs("split_shape", new long[] {5}, new long[] {0, 2, 8, 8, 8}))));
        String swapped = b.op("Transpose", "shuffle.swap", List.of(grouped), Nodes.attr("perm", 0L, 2L, 1L, 3L, 4L));
        String shuffled = b.op("Reshape", "shuffle.merge", List.of(swapped, b.constant(Tensors.ofLongs("merge_shape", new long[] {4}, new long[] {0, 16, 8, 8}))));
        String c = b.op("Relu", "c.relu", List.of(b.conv("c", shuffled, 16, 16, 1, 1)));
        String g = b.conv("b", c, 16, 16, 3, 2);
        String e = b.op("Relu", "e.relu", List.of(b.conv("e", g, 16, 16, 1, 1)));
        String flat = b.op("Flatten", "flatten", List.of(b.op("GlobalAveragePool", "pool", List.of(e))), Nodes.attr("axis", 1L));
        String hidden = b.gemm("fc1", flat, 16, 16);
        String normed = b.op("LayerNormalization", "fc1.norm", List.of(hidden, b.constant(Tensors.ofFloats("ln.scale", new long[] {16}, new float[16])),
                b.constant(Tensors.ofFloats("ln.bias", new long[] {16}, new float[16]))), Nodes.attr("axis", -1L));
        b.gemm("logits", b.op("Relu", "fc1.relu", List.of(normed)), 16, 10);
        return b.build("x", new long[] {1, 16, 8, 8}, "logits", 10);
    }

    /**
     * Channel offsets that must follow the cut: x[N,3,16,16] -> conv(32) -> Split in two halves (no sizes given) ->
     * a * Sigmoid(b) (a gated linear unit) -> conv(16) = s; Slice of s's channels 0..7 = t; Concat(s, t) -> GAP ->
     * Flatten -> Gemm(10).
     */
    public static ModelProto gatedSlices(long seed) {
        Builder b = new Builder(seed);
        String wide = b.conv("wide", "x", 3, 32, 3, 1);
        b.nodes.add(Nodes.node("Split", "halves", List.of(wide), List.of("gate.a", "gate.b"), Nodes.attr("axis", 1L)));
        String gated = b.op("Mul", "glu", List.of("gate.a", b.op("Sigmoid", "gate.sigmoid", List.of("gate.b"))));
        String s = b.op("Relu", "narrow.relu", List.of(b.conv("narrow", gated, 16, 16, 3, 1)));
        String t = b.op("Slice", "first8", List.of(s, b.constant(Tensors.ofLongs("first8.starts", new long[] {1}, new long[] {0})),
                b.constant(Tensors.ofLongs("first8.ends", new long[] {1}, new long[] {8})), b.constant(Tensors.ofLongs("first8.axes", new long[] {1}, new long[] {1}))));
        String joined = b.op("Concat", "join", List.of(s, t), Nodes.attr("axis", 1L));
        String flat = b.op("Flatten", "flatten", List.of(b.op("GlobalAveragePool", "pool", List.of(joined))), Nodes.attr("axis", 1L));
        b.gemm("logits", flat, 24, 10);
        return b.build("x", new long[] {1, 3, 16, 16}, "logits", 10);
    }

    /**
     * A two-layer post-LN transformer encoder as other exporters write it: x[batch, seq, 32] -> per layer Q/K/V MatMuls,
     * Reshape with constant shapes [0, 0, 4, 8] (V: [0, 0, 4, -1]) and Transposes into 4 heads of 8, scaled QK^T,
     * Softmax, attention x V, Transpose + Reshape [0, 0, 32] back, output projection, residual Add,
     * LayerNormalization (opset 17), FFN of 64 with an Erf GELU, residual Add, LayerNormalization.
     */
    public static ModelProto encoder(long seed) {
        Builder b = new Builder(seed);
        String x = "x";
        String headsShape = b.constant(Tensors.ofLongs("heads_shape", new long[] {4}, new long[] {0, 0, 4, 8}));
        String headsShapeInferred = b.constant(Tensors.ofLongs("heads_shape_inferred", new long[] {4}, new long[] {0, 0, 4, -1}));
        String mergedShape = b.constant(Tensors.ofLongs("merged_shape", new long[] {3}, new long[] {0, 0, 32}));
        String scale = b.constant(Tensors.scalarFloat("scale", (float) Math.sqrt(8)));
        String sqrt2 = b.constant(Tensors.scalarFloat("sqrt2", (float) Math.sqrt(2)));
        String one = b.constant(Tensors.scalarFloat("one", 1f));
        String half = b.constant(Tensors.scalarFloat("half", 0.5f));
        for (int layer = 0; layer < 2; layer++) {
            String p = "layer" + layer + ".";
            String q = b.op("Transpose", p + "q.heads", List.of(b.op("Reshape", p + "q.split", List.of(b.matmul(p + "q", x, 32, 32), headsShape))),
                    Nodes.attr("perm", 0L, 2L, 1L, 3L));
            String k = b.op("Transpose", p + "k.heads", List.of(b.op("Reshape", p + "k.split", List.of(b.matmul(p + "k", x, 32, 32), headsShape))),
                    Nodes.attr("perm", 0L, 2L, 3L, 1L));
            String v = b.op("Transpose", p + "v.heads", List.of(b.op("Reshape", p + "v.split", List.of(b.matmul(p + "v", x, 32, 32), headsShapeInferred))),
                    Nodes.attr("perm", 0L, 2L, 1L, 3L));
            String scores = b.op("Div", p + "scores", List.of(b.op("MatMul", p + "qk", List.of(q, k)), scale));
            String probs = b.op("Softmax", p + "softmax", List.of(scores), Nodes.attr("axis", -1L));
            String context = b.op("Transpose", p + "context.t", List.of(b.op("MatMul", p + "context", List.of(probs, v))), Nodes.attr("perm", 0L, 2L, 1L, 3L));
            String merged = b.op("Reshape", p + "context.merge", List.of(context, mergedShape));
            String attended = b.op("Add", p + "attention.residual", List.of(b.matmul(p + "o", merged, 32, 32), x));
            String h = layerNorm(b, p + "attention.norm", attended);
            String up = b.matmul(p + "ffn.up", h, 32, 64);
            String erf = b.op("Erf", p + "ffn.erf", List.of(b.op("Div", p + "ffn.div", List.of(up, sqrt2))));
            String gelu = b.op("Mul", p + "ffn.gelu", List.of(b.op("Mul", p + "ffn.mul", List.of(up, b.op("Add", p + "ffn.add1", List.of(erf, one)))), half));
            String down = b.matmul(p + "ffn.down", gelu, 64, 32);
            x = layerNorm(b, p + "output.norm", b.op("Add", p + "output.residual", List.of(down, h)));
        }
        b.nodes.add(Nodes.node("Identity", "out", List.of(x), List.of("y")));
        GraphProto g = GraphProto.newBuilder().setName("encoder")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", "sequence", 32))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", "sequence", 32))
                .addAllInitializer(b.weights).addAllNode(b.nodes).build();
        return SmallModels.model(g, 17);
    }

    private static String layerNorm(Builder b, String name, String x) {
        String gamma = b.constant(Tensors.ofFloats(name + ".gamma", new long[] {32}, b.positive(32, 1f, 0.1f)));
        String beta = b.constant(Tensors.ofFloats(name + ".beta", new long[] {32}, SmallModels.random(b.random, 32, 0.1f)));
        return b.op("LayerNormalization", name, List.of(x, gamma, beta), Nodes.attr("axis", -1L), Nodes.attr("epsilon", 1e-5f));
    }

    /**
     * A ResNet-like stack: stem conv(16) -> {@code blocks} identical residual blocks (conv-BN-Relu-conv-BN + x, Relu)
     * -> GAP -> Flatten -> Gemm(10). The blocks are what depth pruning finds and drops.
     */
    public static ModelProto resnetStack(int blocks, long seed) {
        Builder b = new Builder(seed);
        String x = b.op("Relu", "stem.relu", List.of(b.conv("stem.conv", "x", 3, 16, 3, 1)));
        for (int i = 0; i < blocks; i++) {
            String p = "block" + i;
            String h = b.op("Relu", p + ".relu1", List.of(b.batchNorm(p + ".bn1", b.conv(p + ".conv1", x, 16, 16, 3, 1), 16)));
            String y = b.batchNorm(p + ".bn2", b.conv(p + ".conv2", h, 16, 16, 3, 1), 16);
            x = b.op("Relu", p + ".relu2", List.of(b.op("Add", p + ".add", List.of(y, x))));
        }
        String flat = b.op("Flatten", "flatten", List.of(b.op("GlobalAveragePool", "pool", List.of(x))), Nodes.attr("axis", 1L));
        b.gemm("logits", flat, 16, 10);
        return b.build("x", new long[] {1, 3, 16, 16}, "logits", 10);
    }
}
