package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.testing.SmallModels;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Autograd through the executed graph agrees with central finite differences. The model is float64 (the trainer
 * casts its float32 master weights up), so the differences are precise; BatchNormalization runs in training mode.
 */
class GradientCheckTest {
    private static final long[] X = {2, 3, 6, 6};

    private static TensorProto doubles(String name, Random random, double scale, double offset, long... shape) {
        int n = (int) Tensors.elementCount(shape, name);
        ByteBuffer b = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            // float32-exact values: the trainer's master copy holds weights as float32
            b.putDouble((float) (random.nextGaussian() * scale + offset));
        }
        return Tensors.raw(name, DataType.DOUBLE, shape, b.flip());
    }

    /**
     * Conv -> BatchNormalization -> Tanh -> GlobalAveragePool -> Flatten -> Gemm -> LayerNormalization -> Gelu -> MatMul
     * -> Mul, plus an embedding Gather, -> Softmax; decomposed attention-style Div/Sqrt/Pow/ReduceMean/Sub on the way.
     */
    static ModelProto smoothModel() {
        Random r = new Random(21);
        GraphProto g = GraphProto.newBuilder().setName("gradcheck")
                .addInput(Nodes.tensorInfo("x", DataType.DOUBLE, X[0], X[1], X[2], X[3]))
                .addOutput(Nodes.tensorInfo("y", DataType.DOUBLE, 2, 3))
                .addInitializer(doubles("cw", r, 0.4, 0, 4, 3, 3, 3)).addInitializer(doubles("cb", r, 0.1, 0, 4))
                .addInitializer(doubles("gamma", r, 0.2, 1, 4)).addInitializer(doubles("beta", r, 0.1, 0, 4))
                .addInitializer(doubles("mean", r, 0.1, 0, 4)).addInitializer(doubles("var", r, 0.1, 1, 4))
                .addInitializer(doubles("gw", r, 0.5, 0, 4, 5)).addInitializer(doubles("gb", r, 0.1, 0, 5))
                .addInitializer(doubles("ls", r, 0.2, 1, 5)).addInitializer(doubles("lb", r, 0.1, 0, 5))
                .addInitializer(doubles("mw", r, 0.5, 0, 5, 3)).addInitializer(doubles("sc", r, 0.3, 1, 3))
                .addInitializer(doubles("emb", r, 0.5, 0, 10, 3))
                .addInitializer(Tensors.ofLongs("ids", new long[] {2}, new long[] {7, 2}))
                .addInitializer(doubles("two", r, 0, 2, new long[0]))
                .addNode(Nodes.node("Conv", "conv", List.of("x", "cw", "cb"), List.of("c"), Nodes.attr("pads", 1L, 1L, 1L, 1L)))
                .addNode(Nodes.node("BatchNormalization", "bn", List.of("c", "gamma", "beta", "mean", "var"), List.of("n")))
                .addNode(Nodes.node("Tanh", "tanh", List.of("n"), List.of("t")))
                .addNode(Nodes.node("GlobalAveragePool", "gap", List.of("t"), List.of("p")))
                .addNode(Nodes.node("Flatten", "flat", List.of("p"), List.of("f")))
                .addNode(Nodes.node("Gemm", "gemm", List.of("f", "gw", "gb"), List.of("h")))
                .addNode(Nodes.node("LayerNormalization", "ln", List.of("h", "ls", "lb"), List.of("l")))
                .addNode(Nodes.node("Gelu", "gelu", List.of("l"), List.of("e")))
                .addNode(Nodes.node("MatMul", "mm", List.of("e", "mw"), List.of("m")))
                .addNode(Nodes.node("Mul", "scale", List.of("m", "sc"), List.of("s")))
                .addNode(Nodes.node("Gather", "embed", List.of("emb", "ids"), List.of("v")))
                .addNode(Nodes.node("Pow", "square", List.of("v", "two"), List.of("v2")))
                .addNode(Nodes.node("ReduceMean", "meansq", List.of("v2"), List.of("ms"), Nodes.attr("axes", new long[] {1})))
                .addNode(Nodes.node("Sqrt", "rms", List.of("ms"), List.of("rm")))
                .addNode(Nodes.node("Div", "normalise", List.of("v", "rm"), List.of("vn")))
                .addNode(Nodes.node("Sub", "combine", List.of("s", "vn"), List.of("z")))
                .addNode(Nodes.node("Softmax", "softmax", List.of("z"), List.of("y")))
                .build();
        return SmallModels.model(g, 20);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        float[] x = new float[(int) (X[0] * X[1] * X[2] * X[3])];
        Random random = new Random(22);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        double[] weights = {0.7, -1.3, 2.1, 0.4, -0.9, 1.6};
        try (OnnxTrainer trainer = OnnxTrainer.create(OnnxModel.of(smoothModel()))) {
            assertThat(trainer.parameters()).extracting(GraphParameter::name)
                    .containsExactlyInAnyOrder("cw", "cb", "gamma", "beta", "gw", "gb", "ls", "lb", "mw", "sc", "emb");
            try (TrainingStep step = trainer.newStep()) {
                NDArray in = step.manager().create(x, new Shape(X)).toType(ai.djl.ndarray.types.DataType.FLOAT64, false);
                NDArray y = step.forward(Map.of("x", in), List.of("y")).get("y");
                step.backward(y.mul(step.manager().create(weights, new Shape(2, 3))).sum());
            }
            int checked = 0;
            for (GraphParameter p : trainer.parameters()) {
                float[] gradient;
                try (NDArray g = p.array().getGradient()) {
                    gradient = g.toFloatArray();
                }
                Random pick = new Random(p.name().hashCode());
                for (int k = 0; k < Math.min(6, gradient.length); k++) {
                    int i = pick.nextInt(gradient.length);
                    double numeric = centralDifference(trainer.module(), p, i, x, weights);
                    assertThat((double) gradient[i]).as(p.name() + "[" + i + "]: autograd vs finite difference")
                            .isCloseTo(numeric, org.assertj.core.api.Assertions.within(1e-7 + 1e-3 * Math.abs(numeric)));
                    checked++;
                }
            }
            assertThat(checked).isGreaterThan(40);
        }
    }

    private static double centralDifference(OnnxGraphModule module, GraphParameter p, int index, float[] x, double[] weights) {
        float[] values = p.array().toFloatArray();
        float original = values[index];
        float up = original + 1e-3f;
        float down = original - 1e-3f;
        double lossUp = lossWith(module, p, values, index, up, x, weights);
        double lossDown = lossWith(module, p, values, index, down, x, weights);
        set(p, values, index, original);
        return (lossUp - lossDown) / ((double) up - down);
    }

    private static double lossWith(OnnxGraphModule module, GraphParameter p, float[] values, int index, float value, float[] x, double[] weights) {
        set(p, values, index, value);
        return GradMode.disabled(() -> {
            try (NDManager scope = NDManager.newBaseManager()) {
                NDArray in = scope.create(x, new Shape(X)).toType(ai.djl.ndarray.types.DataType.FLOAT64, false);
                module.setTraining(true);
                double[] y = module.forward(scope, Map.of("x", in), List.of("y")).get("y").toDoubleArray();
                module.setTraining(false);
                double loss = 0;
                for (int i = 0; i < y.length; i++) {
                    loss += y[i] * weights[i];
                }
                return loss;
            }
        });
    }

    private static void set(GraphParameter p, float[] values, int index, float value) {
        values[index] = value;
        GradMode.disabled(() -> p.array().set(values));
    }
}
