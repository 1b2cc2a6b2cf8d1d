package io.modelpress.train.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.SmallModels;

import java.util.List;
import java.util.Random;

/** Small models for training tests, and data for them. */
final class TrainingModels {
    private TrainingModels() {
    }

    /** x[N,in] -> MatMul + Add -> Relu -> Dropout(ratio) -> MatMul + Add -> y[N,out]; the hidden value is named "hidden". */
    static ModelProto mlpWithDropout(int in, int hidden, int out, float ratio, long seed) {
        Random random = new Random(seed);
        GraphProto g = GraphProto.newBuilder().setName("mlp_dropout")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", in))
                .addOutput(Nodes.tensorInfo("y", DataType.FLOAT, "batch", out))
                .addInitializer(Tensors.ofFloats("w1", new long[] {in, hidden}, SmallModels.random(random, in * hidden, 0.3f)))
                .addInitializer(Tensors.ofFloats("b1", new long[] {hidden}, SmallModels.random(random, hidden, 0.1f)))
                .addInitializer(Tensors.ofFloats("w2", new long[] {hidden, out}, SmallModels.random(random, hidden * out, 0.3f)))
                .addInitializer(Tensors.ofFloats("b2", new long[] {out}, SmallModels.random(random, out, 0.1f)))
                .addInitializer(Tensors.scalarFloat("ratio", ratio))
                .addNode(Nodes.node("MatMul", "mm1", List.of("x", "w1"), List.of("h0")))
                .addNode(Nodes.node("Add", "add1", List.of("h0", "b1"), List.of("h1")))
                .addNode(Nodes.node("Relu", "relu", List.of("h1"), List.of("hidden")))
                .addNode(Nodes.node("Dropout", "dropout", List.of("hidden", "ratio"), List.of("dropped")))
                .addNode(Nodes.node("MatMul", "mm2", List.of("dropped", "w2"), List.of("h3")))
                .addNode(Nodes.node("Add", "add2", List.of("h3", "b2"), List.of("y")))
                .build();
        return SmallModels.model(g, 13);
    }

    /** Gaussian inputs [n, features]. */
    static float[] inputs(Random random, int n, int features) {
        return SmallModels.random(random, n * features, 1f);
    }

    /** Labels of a fixed random linear teacher: argmax(x W). */
    static int[] teacherLabels(float[] x, int features, int classes, long seed) {
        float[] w = SmallModels.random(new Random(seed), features * classes, 1f);
        int n = x.length / features;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            double best = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                double s = 0;
                for (int f = 0; f < features; f++) {
                    s += x[i * features + f] * w[f * classes + c];
                }
                if (s > best) {
                    best = s;
                    labels[i] = c;
                }
            }
        }
        return labels;
    }

    /** Resident memory of this process, from /proc (Linux), in bytes; -1 elsewhere. */
    static long residentBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }
}
