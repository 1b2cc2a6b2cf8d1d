package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.SmallModels;

import java.util.List;
import java.util.Random;

/** Hand-built models for the quantizer's tests, beyond the shared {@link SmallModels}. */
final class TestModels {
    private TestModels() {
    }

    /** x [n, k] -> MatMul(W) and z [n, k] -> MatMul(W): one weight, two readers. */
    static ModelProto sharedWeight(int k, int n, long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("shared")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", k))
                .addInput(Nodes.tensorInfo("z", DataType.FLOAT, "batch", k))
                .addInitializer(Tensors.ofFloats("w", new long[] {k, n}, SmallModels.random(random, k * n, 0.3f)))
                .addNode(Nodes.node("MatMul", "mm_x", List.of("x", "w"), List.of("yx")))
                .addNode(Nodes.node("MatMul", "mm_z", List.of("z", "w"), List.of("yz")))
                .addNode(Nodes.node("Add", "sum", List.of("yx", "yz"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", n)).build();
        return SmallModels.model(g, 13);
    }

    /** y = alpha * x @ W^T + beta * c with W stored [n, k] (transB=1). */
    static ModelProto gemmTransB(int k, int n, float alpha, float beta, long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("gemm")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", k))
                .addInitializer(Tensors.ofFloats("w", new long[] {n, k}, SmallModels.random(random, k * n, 0.3f)))
                .addInitializer(Tensors.ofFloats("c", new long[] {n}, SmallModels.random(random, n, 0.5f)))
                .addNode(Nodes.node("Gemm", "gemm", List.of("x", "w", "c"), List.of("y"), Nodes.attr("transB", 1L),
                        Nodes.attr("alpha", alpha), Nodes.attr("beta", beta)))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", n)).build();
        return SmallModels.model(g, 13);
    }

    /** Weights the quantizer must leave alone: W @ x (constant first), x @ y (no constant), a 3-D weight. */
    static ModelProto unsupportedMatMuls(int k, long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("unsupported")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, k, k))
                .addInput(Nodes.tensorInfo("x3", DataType.FLOAT, 2, k, k))
                .addInitializer(Tensors.ofFloats("w_first", new long[] {k, k}, SmallModels.random(random, k * k, 0.3f)))
                .addInitializer(Tensors.ofFloats("w3", new long[] {2, k, k}, SmallModels.random(random, 2 * k * k, 0.3f)))
                .addNode(Nodes.node("MatMul", "weight_first", List.of("w_first", "x"), List.of("a")))
                .addNode(Nodes.node("MatMul", "no_constant", List.of("a", "x"), List.of("b")))
                .addNode(Nodes.node("MatMul", "three_d", List.of("x3", "w3"), List.of("c")))
                .addOutput(Nodes.tensorInfo("b", DataType.FLOAT, k, k))
                .addOutput(Nodes.tensorInfo("c", DataType.FLOAT, 2, k, k)).build();
        return SmallModels.model(g, 13);
    }

    /** x [1, 3, 8, 8] -> Conv(W [4, 3, 3, 3]). */
    static ModelProto conv(long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("conv")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, 3, 8, 8))
                .addInitializer(Tensors.ofFloats("w", new long[] {4, 3, 3, 3}, SmallModels.random(random, 108, 0.3f)))
                .addNode(Nodes.node("Conv", "conv", List.of("x", "w"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, 4, 6, 6)).build();
        return SmallModels.model(g, 13);
    }

    /** Embedding lookup: ids [batch, seq] -> Gather(table [rows, dim]) and a tiny second table that stays float. */
    static ModelProto embedding(int rows, int dim, long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("embedding")
                .addInput(Nodes.tensorInfo("ids", DataType.INT64, "batch", "seq"))
                .addInitializer(Tensors.ofFloats("table", new long[] {rows, dim}, SmallModels.random(random, rows * dim, 0.1f)))
                .addInitializer(Tensors.ofFloats("tiny", new long[] {2, dim}, SmallModels.random(random, 2 * dim, 0.1f)))
                .addInitializer(Tensors.ofLongs("zero", new long[0], new long[] {0}))
                .addNode(Nodes.node("Gather", "lookup", List.of("table", "ids"), List.of("e")))
                .addNode(Nodes.node("Gather", "tiny_lookup", List.of("tiny", "zero"), List.of("t")))
                .addNode(Nodes.node("Add", "sum", List.of("e", "t"), List.of("y")))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", "seq", dim)).build();
        return SmallModels.model(g, 13);
    }

    /**
     * y = If(cond) then x @ W else x * 2, plus a main-graph MatMul reading the same W: the main node is quantized,
     * and the branch must keep reading a float W.
     */
    static ModelProto ifSharingWeight(int n, long seed) {
        ModelProto base = SmallModels.withIf(n, seed);
        GraphProto g = base.getGraph().toBuilder()
                .addNode(Nodes.node("MatMul", "main_mm", List.of("x", "w"), List.of("main_y")))
                .addOutput(Nodes.tensorInfo("main_y", DataType.FLOAT, 1, n)).build();
        return SmallModels.model(g, 17);
    }

    /**
     * One post-LN transformer feed-forward block with the outliers real models have: LayerNorm (decomposed, as opset
     * 13 exporters write it) whose channel 3 is 12x the others and channels 3 and 7 sit off-centre; FFN1 -> GELU (decomposed) with neuron 5
     * reaching ~40; FFN2; residual Add. x [batch, seq, d] -> r [batch, seq, d].
     */
    static ModelProto feedForwardBlock(int d, long seed) {
        Random random = new Random(seed);
        int hidden = 4 * d;
        float[] gamma = new float[d];
        float[] beta = SmallModels.random(random, d, 0.1f);
        java.util.Arrays.fill(gamma, 1f);
        gamma[3] = 12f;
        beta[3] = 20f;
        beta[7] = -40f;
        float[] w1 = SmallModels.random(random, d * hidden, 0.3f);
        float[] b1 = SmallModels.random(random, hidden, 0.1f);
        for (int r = 0; r < d; r++) {
            w1[r * hidden + 5] *= 4;
        }
        for (int c = 0; c < hidden; c++) {
            w1[3 * hidden + c] *= 0.05f; // outlier channels of real models meet small weights
        }
        b1[5] = 80f;
        GraphProto.Builder g = GraphProto.newBuilder().setName("ffn")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", "seq", d))
                .addOutput(Nodes.tensorInfo("r", DataType.FLOAT, "batch", "seq", d))
                .addInitializer(Tensors.ofFloats("gamma", new long[] {d}, gamma))
                .addInitializer(Tensors.ofFloats("beta", new long[] {d}, beta))
                .addInitializer(Tensors.scalarFloat("two", 2f))
                .addInitializer(Tensors.scalarFloat("eps", 1e-12f))
                .addInitializer(Tensors.ofFloats("w1", new long[] {d, hidden}, w1))
                .addInitializer(Tensors.ofFloats("b1", new long[] {hidden}, b1))
                .addInitializer(Tensors.scalarFloat("sqrt2", (float) Math.sqrt(2)))
                .addInitializer(Tensors.scalarFloat("one", 1f))
                .addInitializer(Tensors.scalarFloat("half", 0.5f))
                .addInitializer(Tensors.ofFloats("w2", new long[] {hidden, d}, SmallModels.random(random, hidden * d, 0.2f)))
                .addInitializer(Tensors.ofFloats("b2", new long[] {d}, SmallModels.random(random, d, 0.1f)));
        g.addNode(Nodes.node("ReduceMean", "ln_mean", List.of("x"), List.of("mu"), Nodes.attr("axes", new long[] {-1})))
                .addNode(Nodes.node("Sub", "ln_sub", List.of("x", "mu"), List.of("dev")))
                .addNode(Nodes.node("Pow", "ln_pow", List.of("dev", "two"), List.of("sq")))
                .addNode(Nodes.node("ReduceMean", "ln_var", List.of("sq"), List.of("var"), Nodes.attr("axes", new long[] {-1})))
                .addNode(Nodes.node("Add", "ln_eps", List.of("var", "eps"), List.of("vareps")))
                .addNode(Nodes.node("Sqrt", "ln_sqrt", List.of("vareps"), List.of("std")))
                .addNode(Nodes.node("Div", "ln_div", List.of("dev", "std"), List.of("norm")))
                .addNode(Nodes.node("Mul", "ln_gamma", List.of("norm", "gamma"), List.of("scaled")))
                .addNode(Nodes.node("Add", "ln_beta", List.of("scaled", "beta"), List.of("x1")))
                .addNode(Nodes.node("MatMul", "ffn1", List.of("x1", "w1"), List.of("h0")))
                .addNode(Nodes.node("Add", "ffn1_bias", List.of("b1", "h0"), List.of("h")))
                .addNode(Nodes.node("Div", "gelu_div", List.of("h", "sqrt2"), List.of("t")))
                .addNode(Nodes.node("Erf", "gelu_erf", List.of("t"), List.of("e")))
                .addNode(Nodes.node("Add", "gelu_add", List.of("e", "one"), List.of("a")))
                .addNode(Nodes.node("Mul", "gelu_mul", List.of("h", "a"), List.of("m")))
                .addNode(Nodes.node("Mul", "gelu_half", List.of("m", "half"), List.of("act")))
                .addNode(Nodes.node("MatMul", "ffn2", List.of("act", "w2"), List.of("y0")))
                .addNode(Nodes.node("Add", "ffn2_bias", List.of("b2", "y0"), List.of("y")))
                .addNode(Nodes.node("Add", "residual", List.of("y", "x1"), List.of("r")));
        return SmallModels.model(g.build(), 13);
    }
}
