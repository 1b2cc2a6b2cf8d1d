package io.modelpress.core.testing;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * A stateful voice-activity model shaped like Silero VAD, built by hand: inputs {@code input} float
 * [batch, samples], {@code sr} int64 scalar (rank 0) and {@code state} float [2, batch, 128]; outputs {@code output}
 * [batch, 1] (a speech probability) and {@code stateN} [2, batch, 128].
 *
 * <p>An If on {@code sr == 16000} picks the 16 kHz branch (reflect Pad of {@value #PAD_16K} samples each side, then a
 * strided Conv) or the 8 kHz branch (Pad of {@value #PAD_8K}); a reflect Pad needs more input samples than it pads, so
 * ONNX Runtime fails on chunks of {@value #PAD_16K} samples or fewer at 16 kHz. The frames are averaged into 16 features,
 * which drive a recurrent-like update {@code stateN = tanh(state @ Ws + features @ Wx)}; the output reads the second
 * state row: {@code sigmoid(stateN[1] @ Wo)}.
 */
public final class StatefulVad {
    public static final int STATE = 128;
    public static final int CHANNELS = 16;
    public static final int PAD_16K = 64;
    public static final int PAD_8K = 32;

    private StatefulVad() {
    }

    public static ModelProto model(long seed) {
        Random random = new Random(seed);
        GraphProto then16k = branch("k16", PAD_16K, random);
        GraphProto else8k = branch("k8", PAD_8K, random);
        GraphProto graph = GraphProto.newBuilder().setName("stateful_vad")
                .addInput(Nodes.tensorInfo("input", DataType.FLOAT, "batch", "samples"))
                .addInput(Nodes.tensorInfo("sr", DataType.INT64))
                .addInput(Nodes.tensorInfo("state", DataType.FLOAT, 2, "batch", STATE))
                .addInitializer(Tensors.scalarLong("sr_16k", 16000))
                .addInitializer(Tensors.ofLongs("axis_1", new long[] {1}, new long[] {1}))
                .addInitializer(Tensors.ofLongs("axis_0", new long[] {1}, new long[] {0}))
                .addInitializer(Tensors.scalarLong("second_row", 1))
                .addInitializer(Tensors.ofFloats("w_x", new long[] {CHANNELS, STATE}, SmallModels.random(random, CHANNELS * STATE, 0.3f)))
                .addInitializer(Tensors.ofFloats("w_s", new long[] {STATE, STATE}, SmallModels.random(random, STATE * STATE, 0.1f)))
                .addInitializer(Tensors.ofFloats("w_o", new long[] {STATE, 1}, SmallModels.random(random, STATE, 0.2f)))
                .addNode(Nodes.node("Equal", "is_16k", List.of("sr", "sr_16k"), List.of("is16k")))
                .addNode(Nodes.node("Unsqueeze", "as_channels", List.of("input", "axis_1"), List.of("audio")))
                .addNode(Nodes.node("If", "by_rate", List.of("is16k"), List.of("frames"),
                        Nodes.attr("then_branch", then16k), Nodes.attr("else_branch", else8k)))
                .addNode(Nodes.node("Relu", "relu", List.of("frames"), List.of("frames_relu")))
                .addNode(Nodes.node("ReduceMean", "pool", List.of("frames_relu"), List.of("features"),
                        Nodes.attr("axes", new long[] {2}), Nodes.attr("keepdims", 0L)))
                .addNode(Nodes.node("MatMul", "drive", List.of("features", "w_x"), List.of("drive2")))
                .addNode(Nodes.node("Unsqueeze", "drive_rows", List.of("drive2", "axis_0"), List.of("drive3")))
                .addNode(Nodes.node("MatMul", "recur", List.of("state", "w_s"), List.of("mixed")))
                .addNode(Nodes.node("Add", "update", List.of("mixed", "drive3"), List.of("pre_state")))
                .addNode(Nodes.node("Tanh", "squash", List.of("pre_state"), List.of("stateN")))
                .addNode(Nodes.node("Gather", "last_row", List.of("stateN", "second_row"), List.of("hidden"), Nodes.attr("axis", 0L)))
                .addNode(Nodes.node("MatMul", "decide", List.of("hidden", "w_o"), List.of("logit")))
                .addNode(Nodes.node("Sigmoid", "probability", List.of("logit"), List.of("output")))
                .addOutput(Nodes.tensorInfo("output", DataType.FLOAT, "batch", 1))
                .addOutput(Nodes.tensorInfo("stateN", DataType.FLOAT, 2, "batch", STATE))
                .build();
        return SmallModels.model(graph, 17);
    }

    /** Reflect-pads the audio [batch, 1, samples] by {@code pad} each side, then a Conv of kernel 2*pad, stride pad. */
    private static GraphProto branch(String name, int pad, Random random) {
        int kernel = 2 * pad;
        return GraphProto.newBuilder().setName(name)
                .addInitializer(Tensors.ofLongs(name + "_pads", new long[] {6}, new long[] {0, 0, pad, 0, 0, pad}))
                .addInitializer(Tensors.ofFloats(name + "_w", new long[] {CHANNELS, 1, kernel},
                        SmallModels.random(random, CHANNELS * kernel, 0.1f)))
                .addNode(Nodes.node("Pad", name + "_pad", List.of("audio", name + "_pads"), List.of(name + "_padded"),
                        Nodes.attr("mode", "reflect")))
                .addNode(Nodes.node("Conv", name + "_conv", List.of(name + "_padded", name + "_w"), List.of(name + "_frames"),
                        Nodes.attr("strides", new long[] {pad})))
                .addOutput(Nodes.tensorInfo(name + "_frames", DataType.FLOAT, "batch", CHANNELS, "frames"))
                .build();
    }

    /** Writes the model to {@code file} and returns the file. */
    public static Path write(Path file, long seed) throws Exception {
        Files.createDirectories(file.toAbsolutePath().getParent());
        OnnxModel.of(model(seed)).write(file);
        return file;
    }
}
