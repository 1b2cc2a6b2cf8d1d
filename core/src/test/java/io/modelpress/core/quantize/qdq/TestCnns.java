package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.SmallModels;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/** Hand-built CNNs in the shapes exporters produce, and a look at what ONNX Runtime makes of a model. */
public final class TestCnns {
    private TestCnns() {
    }

    /**
     * [N,1,28,28] -> conv3x3(c1)-BN-Relu-maxpool2 -> conv3x3(c2)-BN-Relu-maxpool2 -> Flatten -> Gemm(hidden, transB)
     * -> Relu -> Gemm(10). Weights He-scaled so activations keep their size; BN statistics random but plausible.
     *
     * @param constantNodes keep the weights in Constant nodes instead of initializers
     */
    public static ModelProto fashionLike(int c1, int c2, int hidden, boolean constantNodes, long seed) {
        Random random = new Random(seed);
        List<TensorProto> weights = new ArrayList<>();
        List<NodeProto> nodes = new ArrayList<>();
        String x = "input";
        int in = 1;
        int side = 28;
        int[] channels = {c1, c2};
        for (int layer = 0; layer < 2; layer++) {
            int c = channels[layer];
            String p = "conv" + (layer + 1);
            weights.add(Tensors.ofFloats(p + ".weight", new long[] {c, in, 3, 3}, SmallModels.random(random, c * in * 9, (float) Math.sqrt(2.0 / (in * 9)))));
            weights.add(Tensors.ofFloats(p + ".bias", new long[] {c}, SmallModels.random(random, c, 0.05f)));
            weights.add(Tensors.ofFloats(p + ".bn.gamma", new long[] {c}, positive(random, c, 1.0f, 0.2f)));
            weights.add(Tensors.ofFloats(p + ".bn.beta", new long[] {c}, SmallModels.random(random, c, 0.1f)));
            weights.add(Tensors.ofFloats(p + ".bn.mean", new long[] {c}, SmallModels.random(random, c, 0.1f)));
            weights.add(Tensors.ofFloats(p + ".bn.var", new long[] {c}, positive(random, c, 1.0f, 0.3f)));
            nodes.add(Nodes.node("Conv", p, List.of(x, p + ".weight", p + ".bias"), List.of(p + ".out"),
                    Nodes.attr("kernel_shape", 3L, 3L), Nodes.attr("pads", 1L, 1L, 1L, 1L)));
            nodes.add(Nodes.node("BatchNormalization", p + ".bn", List.of(p + ".out", p + ".bn.gamma", p + ".bn.beta", p + ".bn.mean",
                    p + ".bn.var"), List.of(p + ".normed"), Nodes.attr("epsilon", 1e-5f)));
            nodes.add(Nodes.node("Relu", p + ".relu", List.of(p + ".normed"), List.of(p + ".act")));
            nodes.add(Nodes.node("MaxPool", p + ".pool", List.of(p + ".act"), List.of(p + ".pooled"),
                    Nodes.attr("kernel_shape", 2L, 2L), Nodes.attr("strides", 2L, 2L)));
            x = p + ".pooled";
            in = c;
            side /= 2;
        }
        int features = in * side * side;
        nodes.add(Nodes.node("Flatten", "flatten", List.of(x), List.of("flat"), Nodes.attr("axis", 1L)));
        weights.add(Tensors.ofFloats("fc1.weight", new long[] {hidden, features}, SmallModels.random(random, hidden * features, (float) Math.sqrt(2.0 / features))));
        weights.add(Tensors.ofFloats("fc1.bias", new long[] {hidden}, SmallModels.random(random, hidden, 0.05f)));
        weights.add(Tensors.ofFloats("fc2.weight", new long[] {10, hidden}, SmallModels.random(random, 10 * hidden, (float) Math.sqrt(1.0 / hidden))));
        weights.add(Tensors.ofFloats("fc2.bias", new long[] {10}, SmallModels.random(random, 10, 0.05f)));
        nodes.add(Nodes.node("Gemm", "fc1", List.of("flat", "fc1.weight", "fc1.bias"), List.of("fc1.out"), Nodes.attr("transB", 1L)));
        nodes.add(Nodes.node("Relu", "fc1.relu", List.of("fc1.out"), List.of("fc1.act")));
        nodes.add(Nodes.node("Gemm", "fc2", List.of("fc1.act", "fc2.weight", "fc2.bias"), List.of("logits"), Nodes.attr("transB", 1L)));
        GraphProto.Builder g = GraphProto.newBuilder().setName("cnn")
                .addInput(Nodes.tensorInfo("input", DataType.FLOAT, "batch", 1, 28, 28))
                .addOutput(Nodes.tensorInfo("logits", DataType.FLOAT, "batch", 10));
        if (constantNodes) {
            weights.forEach(w -> g.addNode(Nodes.constant(w)));
        } else {
            g.addAllInitializer(weights);
        }
        g.addAllNode(nodes);
        return SmallModels.model(g.build(), 17);
    }

    /**
     * A residual block with a concatenation: x[N,8,16,16] -> convA 3x3 -> Relu -> a; x -> convB 1x1 -> Relu -> b;
     * Add(a, b) -> Relu -> r; r -> convC -> c; Concat(r, c) -> GlobalAveragePool -> Flatten -> Gemm(10).
     */
    public static ModelProto residual(long seed) {
        Random random = new Random(seed);
        GraphProto.Builder g = GraphProto.newBuilder().setName("residual")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 8, 16, 16))
                .addOutput(Nodes.tensorInfo("logits", DataType.FLOAT, "batch", 10));
        for (String conv : List.of("convA", "convB", "convC")) {
            int k = conv.equals("convB") ? 1 : 3;
            g.addInitializer(Tensors.ofFloats(conv + ".weight", new long[] {8, 8, k, k}, SmallModels.random(random, 64 * k * k, (float) Math.sqrt(2.0 / (8 * k * k)))));
            g.addInitializer(Tensors.ofFloats(conv + ".bias", new long[] {8}, SmallModels.random(random, 8, 0.05f)));
        }
        g.addInitializer(Tensors.ofFloats("fc.weight", new long[] {16, 10}, SmallModels.random(random, 160, 0.3f)));
        g.addInitializer(Tensors.ofFloats("fc.bias", new long[] {10}, SmallModels.random(random, 10, 0.05f)));
        g.addNode(Nodes.node("Conv", "convA", List.of("x", "convA.weight", "convA.bias"), List.of("a0"), Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("Relu", "reluA", List.of("a0"), List.of("a")))
                .addNode(Nodes.node("Conv", "convB", List.of("x", "convB.weight", "convB.bias"), List.of("b0")))
                .addNode(Nodes.node("Relu", "reluB", List.of("b0"), List.of("b")))
                .addNode(Nodes.node("Add", "add", List.of("a", "b"), List.of("s")))
                .addNode(Nodes.node("Relu", "reluS", List.of("s"), List.of("r")))
                .addNode(Nodes.node("Conv", "convC", List.of("r", "convC.weight", "convC.bias"), List.of("c"), Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("Concat", "concat", List.of("r", "c"), List.of("cat"), Nodes.attr("axis", 1L)))
                .addNode(Nodes.node("GlobalAveragePool", "gap", List.of("cat"), List.of("pooled")))
                .addNode(Nodes.node("Flatten", "flatten", List.of("pooled"), List.of("flat")))
                .addNode(Nodes.node("Gemm", "fc", List.of("flat", "fc.weight", "fc.bias"), List.of("logits")));
        return SmallModels.model(g.build(), 17);
    }

    /**
     * A MobileNetV2-style inverted residual block: x[N,8,16,16] -> 1x1 conv (16) -> Clip(0, 6) -> depthwise 3x3 conv
     * -> Clip(0, 6) -> 1x1 conv (8) -> Add(x) -> GlobalAveragePool -> Flatten -> Gemm(10). Clip bounds are inputs.
     */
    public static ModelProto invertedResidual(long seed) {
        Random random = new Random(seed);
        GraphProto.Builder g = GraphProto.newBuilder().setName("inverted_residual")
                .addInput(Nodes.tensorInfo("x", DataType.FLOAT, "batch", 8, 16, 16))
                .addOutput(Nodes.tensorInfo("logits", DataType.FLOAT, "batch", 10))
                .addInitializer(Tensors.ofFloats("expand.weight", new long[] {16, 8, 1, 1}, SmallModels.random(random, 128, 0.5f)))
                .addInitializer(Tensors.ofFloats("expand.bias", new long[] {16}, SmallModels.random(random, 16, 0.1f)))
                .addInitializer(Tensors.ofFloats("dw.weight", new long[] {16, 1, 3, 3}, SmallModels.random(random, 144, 0.4f)))
                .addInitializer(Tensors.ofFloats("dw.bias", new long[] {16}, SmallModels.random(random, 16, 0.1f)))
                .addInitializer(Tensors.ofFloats("project.weight", new long[] {8, 16, 1, 1}, SmallModels.random(random, 128, 0.3f)))
                .addInitializer(Tensors.ofFloats("project.bias", new long[] {8}, SmallModels.random(random, 8, 0.1f)))
                .addInitializer(Tensors.ofFloats("fc.weight", new long[] {8, 10}, SmallModels.random(random, 80, 0.5f)))
                .addInitializer(Tensors.scalarFloat("zero", 0f))
                .addInitializer(Tensors.scalarFloat("six", 6f))
                .addNode(Nodes.node("Conv", "expand", List.of("x", "expand.weight", "expand.bias"), List.of("e0")))
                .addNode(Nodes.node("Clip", "expand.relu6", List.of("e0", "zero", "six"), List.of("e")))
                .addNode(Nodes.node("Conv", "dw", List.of("e", "dw.weight", "dw.bias"), List.of("d0"), Nodes.attr("group", 16L),
                        Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("Clip", "dw.relu6", List.of("d0", "zero", "six"), List.of("d")))
                .addNode(Nodes.node("Conv", "project", List.of("d", "project.weight", "project.bias"), List.of("p")))
                .addNode(Nodes.node("Add", "residual", List.of("p", "x"), List.of("r")))
                .addNode(Nodes.node("GlobalAveragePool", "gap", List.of("r"), List.of("pooled")))
                .addNode(Nodes.node("Flatten", "flatten", List.of("pooled"), List.of("flat")))
                .addNode(Nodes.node("Gemm", "fc", List.of("flat", "fc.weight"), List.of("logits")));
        return SmallModels.model(g.build(), 17);
    }

    /** Calibration batches of uniform random values in [0, 1) for a single-input model. */
    public static CalibrationData randomData(String input, long[] sampleShape, long seed) {
        return batches(input, sampleShape, seed, (random, count, shape) -> {
            float[] x = new float[count];
            for (int i = 0; i < x.length; i++) {
                x[i] = random.nextFloat();
            }
            return OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), FloatBuffer.wrap(x), shape);
        });
    }

    /** Calibration batches of uniform random int64 token ids in [0, vocabulary) for a single-input model. */
    public static CalibrationData randomIds(String input, long[] sampleShape, int vocabulary, long seed) {
        return batches(input, sampleShape, seed, (random, count, shape) ->
                OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), LongBuffer.wrap(random.longs(count, 0, vocabulary).toArray()), shape));
    }

    /** Makes one batch tensor of {@code count} random elements in {@code shape}. */
    private interface BatchMaker {
        OnnxTensor make(Random random, int count, long[] shape) throws OrtException;
    }

    private static CalibrationData batches(String input, long[] sampleShape, long seed, BatchMaker maker) {
        return (maxSamples, consumer) -> {
            Random random = new Random(seed);
            int perSample = (int) java.util.Arrays.stream(sampleShape).reduce(1, (a, b) -> a * b);
            for (int done = 0; done < maxSamples; done += 16) {
                int n = Math.min(16, maxSamples - done);
                long[] shape = new long[sampleShape.length + 1];
                shape[0] = n;
                System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
                try (OnnxTensor t = maker.make(random, n * perSample, shape)) {
                    consumer.accept(Map.of(input, t), n);
                } catch (OrtException e) {
                    throw new AssertionError(e);
                }
            }
        };
    }

    /** Uniform random inputs in [0, 1). */
    public static float[] randomInputs(long seed, int n) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = random.nextFloat();
        }
        return x;
    }

    private static float[] positive(Random random, int n, float mean, float spread) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (mean * Math.exp(random.nextGaussian() * spread));
        }
        return v;
    }

    /** Operator counts ("domain:op" for non-default domains) of the graph ONNX Runtime runs after all optimizations. */
    public static Map<String, Integer> optimizedOps(Path model, Path optimizedFile) {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.setIntraOpNumThreads(1);
            options.setOptimizedModelFilePath(optimizedFile.toString());
            try (OrtSession session = OrtEnvironment.getEnvironment().createSession(model.toString(), options)) {
                session.getInputNames();
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + model + ": " + e.getMessage(), e);
        }
        Map<String, Integer> ops = new TreeMap<>();
        for (NodeProto node : OnnxModel.read(optimizedFile).graph().getNodeList()) {
            String key = node.getDomain().isEmpty() ? node.getOpType() : node.getDomain() + ":" + node.getOpType();
            ops.merge(key, 1, Integer::sum);
        }
        return ops;
    }
}
