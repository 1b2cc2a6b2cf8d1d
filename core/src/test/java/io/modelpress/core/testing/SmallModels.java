package io.modelpress.core.testing;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;

import java.util.List;
import java.util.Random;

/** Small hand-built models covering the storage forms real exporters produce. */
public final class SmallModels {
    private SmallModels() {
    }

    public static ModelProto model(GraphProto graph, long opset) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("modelpress-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .setGraph(graph).build();
    }

    public static float[] random(Random random, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian() * scale;
        }
        return v;
    }

    /** x[N,in] -> MatMul(W1) + b1 -> Relu -> MatMul(W2) + b2 -> y[N,out]; weights in initializers or Constant nodes. */
    public static ModelProto mlp(int in, int hidden, int out, boolean weightsInConstantNodes, long seed) {
        Random random = new Random(seed);
        var w1 = Tensors.ofFloats("w1", new long[] {in, hidden}, random(random, in * hidden, 0.3f));
        var b1 = Tensors.ofFloats("b1", new long[] {hidden}, random(random, hidden, 0.1f));
        var w2 = Tensors.ofFloats("w2", new long[] {hidden, out}, random(random, hidden * out, 0.3f));
        var b2 = Tensors.ofFloats("b2", new long[] {out}, random(random, out, 0.1f));
        GraphProto.Builder g = GraphProto.newBuilder().setName("mlp")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", in))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", out));
        if (weightsInConstantNodes) {
            g.addNode(Nodes.constant(w1)).addNode(Nodes.constant(b1)).addNode(Nodes.constant(w2)).addNode(Nodes.constant(b2));
        } else {
            g.addInitializer(w1).addInitializer(b1).addInitializer(w2).addInitializer(b2);
        }
        g.addNode(Nodes.node("MatMul", "mm1", List.of("x", "w1"), List.of("h0")))
                .addNode(Nodes.node("Add", "add1", List.of("h0", "b1"), List.of("h1")))
                .addNode(Nodes.node("Relu", "relu", List.of("h1"), List.of("h2")))
                .addNode(Nodes.node("MatMul", "mm2", List.of("h2", "w2"), List.of("h3")))
                .addNode(Nodes.node("Add", "add2", List.of("h3", "b2"), List.of("y")));
        return model(g.build(), 17);
    }

    /**
     * y = If(cond) then x @ W (W an outer-scope initializer read inside the branch) else x * 2. The then-branch
     * exercises implicit inputs, which every edit must keep.
     */
    public static ModelProto withIf(int n, long seed) {
        Random random = new Random(seed);
        var w = Tensors.ofFloats("w", new long[] {n, n}, random(random, n * n, 0.5f));
        var two = Tensors.scalarFloat("two", 2f);
        GraphProto thenBranch = GraphProto.newBuilder().setName("then")
                .addNode(Nodes.node("MatMul", "then_mm", List.of("x", "w"), List.of("then_y")))
                .addOutput(Nodes.tensorInfo("then_y", DataType.FLOAT, 1, n)).build();
        GraphProto elseBranch = GraphProto.newBuilder().setName("else")
                .addNode(Nodes.node("Mul", "else_mul", List.of("x", "two"), List.of("else_y")))
                .addOutput(Nodes.tensorInfo("else_y", DataType.FLOAT, 1, n)).build();
        GraphProto g = GraphProto.newBuilder().setName("if_model")
                .addInput(Nodes.tensorInfo("cond", DataType.BOOL))
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, 1, n))
                .addInitializer(w).addInitializer(two)
                .addNode(Nodes.node("If", "branch", List.of("cond"), List.of("y"),
                        Nodes.attr("then_branch", thenBranch), Nodes.attr("else_branch", elseBranch)))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, 1, n)).build();
        return model(g, 17);
    }
}
