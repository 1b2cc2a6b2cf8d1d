package io.modelpress.core.testing;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Hand-built models with every kind of weight a sparsity or low-rank pass meets: MatMul, Gemm (transB 0 and 1, alpha,
 * beta, bias), Conv (one whose in_channels x kh x kw, 27, is not a multiple of 4), an embedding Gather, LayerNorm
 * parameters and biases that must stay untouched, and tied weights.
 */
public final class PrunableModels {
    public static final int TOKENS = 5;

    private PrunableModels() {
    }

    /**
     * Inputs x [batch, 32], ids [batch, 5] (int64 into a 50 x 32 table), img [batch, 3, 6, 6]; outputs
     * y = Gemm(Relu(Gemm(Relu(LayerNorm(x + mean(table[ids])) @ fc1 + b1), fc2^T, b2)), fc3, b3, alpha .5, beta 2)
     * [batch, 24] and z = Conv(Relu(Conv(img, conv1) + bc1), conv2) [batch, 8, 6, 6].
     */
    public static ModelProto mixed(long seed, boolean weightsInConstantNodes) {
        Random random = new Random(seed);
        List<TensorProto> constants = List.of(
                floats("table", random, 0.5f, 50, 32),
                floats("ln_gamma", random, 0.2f, 32),
                floats("ln_beta", random, 0.2f, 32),
                floats("fc1", random, 0.3f, 32, 64),
                floats("b1", random, 0.1f, 64),
                floats("fc2", random, 0.2f, 48, 64),
                floats("b2", random, 0.1f, 48),
                floats("fc3", random, 0.3f, 48, 24),
                floats("b3", random, 0.1f, 24),
                floats("conv1", random, 0.3f, 16, 3, 3, 3),
                floats("bc1", random, 0.1f, 16),
                floats("conv2", random, 0.2f, 8, 16, 3, 3));
        GraphProto.Builder g = GraphProto.newBuilder().setName("mixed")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 32))
                .addInput(Nodes.tensorInfo("ids", DataType.INT64, "batch", TOKENS))
                .addInput(Nodes.tensorInfo("img", DataType.FLOAT, "batch", 3, 6, 6))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 24))
                .addOutput(Nodes.tensorInfo("z", DataType.FLOAT, "batch", 8, 6, 6));
        for (TensorProto t : constants) {
            if (weightsInConstantNodes) {
                g.addNode(Nodes.constant(t));
            } else {
                g.addInitializer(t);
            }
        }
        g.addNode(Nodes.node("Gather", "embed", List.of("table", "ids"), List.of("emb")))
                .addNode(Nodes.node("ReduceMean", "pool", List.of("emb"), List.of("pooled"), Nodes.attr("axes", new long[] {1}), Nodes.attr("keepdims", 0L)))
                .addNode(Nodes.node("Add", "add_embedding", List.of("x", "pooled"), List.of("x1")))
                .addNode(Nodes.node("LayerNormalization", "ln", List.of("x1", "ln_gamma", "ln_beta"), List.of("n1")))
                .addNode(Nodes.node("MatMul", "fc1_matmul", List.of("n1", "fc1"), List.of("h1")))
                .addNode(Nodes.node("Add", "fc1_bias", List.of("h1", "b1"), List.of("h2")))
                .addNode(Nodes.node("Relu", "relu1", List.of("h2"), List.of("h3")))
                .addNode(Nodes.node("Gemm", "fc2_gemm", List.of("h3", "fc2", "b2"), List.of("h4"), Nodes.attr("transB", 1L)))
                .addNode(Nodes.node("Relu", "relu2", List.of("h4"), List.of("h5")))
                .addNode(Nodes.node("Gemm", "fc3_gemm", List.of("h5", "fc3", "b3"), List.of("y"),
                        Nodes.attr("alpha", 0.5f), Nodes.attr("beta", 2f)))
                .addNode(Nodes.node("Conv", "conv1_conv", List.of("img", "conv1", "bc1"), List.of("c1"), Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("Relu", "relu3", List.of("c1"), List.of("c2")))
                .addNode(Nodes.node("Conv", "conv2_conv", List.of("c2", "conv2"), List.of("z"), Nodes.attr("pads", 1L, 1L, 1L, 1L)));
        return SmallModels.model(g.build(), 17);
    }

    /** Random feeds for {@link #mixed}. */
    public static Map<String, Object> mixedFeeds(int batch, long seed) {
        Random random = new Random(seed);
        long[] ids = new long[batch * TOKENS];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(50);
        }
        Map<String, Object> feeds = new LinkedHashMap<>();
        feeds.put("x", new Ort.Floats(SmallModels.random(random, batch * 32, 1f), batch, 32));
        feeds.put("ids", new OrtOutputs.Longs(ids, batch, TOKENS));
        feeds.put("img", new Ort.Floats(SmallModels.random(random, batch * 3 * 36, 1f), batch, 3, 6, 6));
        return feeds;
    }

    /**
     * x [batch, 16] -> MatMul(tied) -> MatMul(tied) -> MatMul(shared) -> y, where "tied" feeds only the two MatMuls
     * and "shared" is also transposed into a second output t.
     */
    public static ModelProto tied(long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("tied")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 16))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", 16))
                .addOutput(Nodes.tensorInfo("t", DataType.FLOAT, 16, 16))
                .addInitializer(floats("tied", random, 0.3f, 16, 16))
                .addInitializer(floats("shared", random, 0.3f, 16, 16))
                .addNode(Nodes.node("MatMul", "mm_a", List.of("x", "tied"), List.of("a")))
                .addNode(Nodes.node("MatMul", "mm_b", List.of("a", "tied"), List.of("b")))
                .addNode(Nodes.node("MatMul", "mm_c", List.of("b", "shared"), List.of("y")))
                .addNode(Nodes.node("Transpose", "transpose", List.of("shared"), List.of("t")))
                .build();
        return SmallModels.model(g, 17);
    }

    /**
     * x [batch, in] -> MatMul(w [in, out]) -> y, where w = a b has rank {@code rank} (a [in, rank], b [rank, out]).
     */
    public static ModelProto lowRankMatMul(int in, int out, int rank, long seed) {
        Random random = new Random(seed);
        float[] a = SmallModels.random(random, in * rank, 1f);
        float[] b = SmallModels.random(random, rank * out, 1f);
        float[] w = new float[in * out];
        for (int i = 0; i < in; i++) {
            for (int k = 0; k < rank; k++) {
                for (int j = 0; j < out; j++) {
                    w[i * out + j] += a[i * rank + k] * b[k * out + j] / (float) Math.sqrt(rank * in);
                }
            }
        }
        GraphProto g = GraphProto.newBuilder().setName("low_rank")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", in))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", out))
                .addInitializer(Tensors.ofFloats("w", new long[] {in, out}, w))
                .addNode(Nodes.node("MatMul", "mm", List.of("x", "w"), List.of("y")))
                .build();
        return SmallModels.model(g, 17);
    }

    /**
     * x [batch, in] -> Gemm(w [out, in], c [out], transB 1, alpha, beta) -> y [batch, out], at the given opset (below
     * 11 the Gemm's C input is required).
     */
    public static ModelProto gemm(int in, int out, boolean transB, long opset, long seed) {
        Random random = new Random(seed);
        long[] dims = transB ? new long[] {out, in} : new long[] {in, out};
        GraphProto g = GraphProto.newBuilder().setName("gemm")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", in))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", out))
                .addInitializer(Tensors.ofFloats("w", dims, SmallModels.random(random, in * out, 0.2f)))
                .addInitializer(floats("c", random, 0.5f, out))
                .addNode(Nodes.node("Gemm", "gemm", List.of("x", "w", "c"), List.of("y"), Nodes.attr("transB", transB ? 1L : 0L),
                        Nodes.attr("alpha", 0.75f), Nodes.attr("beta", 1.5f)))
                .build();
        return SmallModels.model(g, opset);
    }

    private static TensorProto floats(String name, Random random, float scale, long... dims) {
        int n = 1;
        for (long d : dims) {
            n *= (int) d;
        }
        return Tensors.ofFloats(name, dims, SmallModels.random(random, n, scale));
    }
}
