package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.Weights;
import io.modelpress.core.quantize.qdq.StaticQuantizer;
import io.modelpress.core.quantize.qdq.TestCnns;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.testing.OnnxChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Quantization-aware fine-tuning of a static INT8 (QDQ) CNN made by core's StaticQuantizer: the trainer's forward
 * pass is ONNX Runtime's (run as written, and with its integer kernels) within quantization tolerance, gradients pass
 * QuantizeLinear/DequantizeLinear by the straight-through estimator, and the written-back model keeps its form with
 * new integer weights.
 */
class QdqFineTuningTest {
    private static final long[] IMAGE = {1, 28, 28};

    @TempDir
    Path dir;

    private static OnnxModel quantizedCnn() {
        OnnxModel model = OnnxModel.of(TestCnns.fashionLike(16, 32, 64, false, 1));
        StaticQuantizer.quantize(model, RecipeParser.parse("stages:\n  - quantize: { mode: static }\n", "test.yaml").stages().get(0),
                TestCnns.randomData("input", IMAGE, 1));
        return model;
    }

    private static float[] images(long seed, int n) {
        return TestCnns.randomInputs(seed, n * 784);
    }

    private static OrtReference.Values trainerLogits(OnnxGraphModule module, float[] x, int n) {
        try (NDManager scope = NDManager.newBaseManager()) {
            return OrtReference.values(module.predict(scope, Map.of("input", scope.create(x, new Shape(n, 1, 28, 28))),
                    List.of("logits")).get("logits"));
        }
    }

    @Test
    void forwardMatchesOnnxRuntimeAndQuantizedWeightsTrainThroughTheStraightThroughEstimator() throws Exception {
        OnnxModel model = quantizedCnn();
        Map<String, Integer> ops = new TreeMap<>();
        model.graph().getNodeList().forEach(n -> ops.merge(n.getOpType(), 1, Integer::sum));
        assertThat(ops).containsKeys("QuantizeLinear", "DequantizeLinear");
        int n = 16;
        float[] x = images(3, n);
        Map<String, TensorProto> feeds = Map.of("input", Tensors.ofFloats("input", new long[] {n, 1, 28, 28}, x));
        byte[] bytes = model.build().toByteArray();
        OrtReference.Values literal = OrtReference.run(bytes, feeds, true).get("logits");
        OrtReference.Values fused = OrtReference.run(bytes, feeds, false).get("logits");

        try (OnnxTrainer trainer = OnnxTrainer.create(model, OnnxTrainer.Options.defaults()
                .withSchedule(LearningRateSchedule.constant(3e-3)))) {
            List<GraphParameter> quantized = trainer.parameters().stream().filter(GraphParameter::isQuantized).toList();
            assertThat(quantized).extracting(GraphParameter::storedType).contains(DataType.INT8, DataType.INT32);
            OrtReference.Values djl = trainerLogits(trainer.module(), x, n);
            double range = java.util.Arrays.stream(literal.data()).map(Math::abs).max().orElseThrow();
            double literalDifference = OrtReference.maxAbsDifference(literal, djl);
            double fusedDifference = OrtReference.maxAbsDifference(fused, djl);
            System.out.printf("QDQ CNN (%s): logits up to %.3f; max |trainer - ORT as written| %.3g, |trainer - ORT integer kernels| %.3g;"
                    + " cosine %.6f%n", ops, range, literalDifference, fusedDifference, OrtReference.cosine(fused.data(), djl.data()));
            // as written, ONNX Runtime computes the same float QDQ arithmetic: differences are rounding ties at most
            assertThat(literalDifference).isLessThan(0.01 * range);
            // its integer kernels requantize differently: within a few quantization steps
            assertThat(OrtReference.cosine(fused.data(), djl.data())).isGreaterThan(0.999);
            assertThat(fusedDifference).isLessThan(0.05 * range);

            int[] labels = new Random(4).ints(n, 0, 10).toArray();
            List<Float> losses = new ArrayList<>();
            for (int step = 0; step < 15; step++) {
                try (TrainingStep s = trainer.newStep()) {
                    NDArray logits = s.forward(Map.of("input", s.manager().create(x, new Shape(n, 1, 28, 28))), List.of("logits"))
                            .get("logits");
                    losses.add(s.backward(Losses.crossEntropy(logits, s.manager().create(labels))));
                    if (step == 0) {
                        for (GraphParameter p : quantized) {
                            try (NDArray g = p.array().getGradient()) {
                                assertThat(g.abs().sum().getFloat()).as("gradient reaching " + p.name()).isPositive();
                            }
                        }
                    }
                }
                trainer.optimizerStep();
            }
            System.out.println("QDQ fine-tuning losses: " + losses);
            assertThat(losses.get(losses.size() - 1)).isLessThan(0.5f * losses.get(0));

            OnnxModel before = quantizedCnn();
            trainer.writeBack(model);
            int changed = 0;
            for (GraphParameter p : quantized) {
                TensorProto written = Weights.find(model, p.name()).orElseThrow();
                TensorProto original = Weights.find(before, p.name()).orElseThrow();
                assertThat(DataType.of(written)).isEqualTo(DataType.of(original));
                long[] a = Tensors.toLongs(written, null);
                long[] b = Tensors.toLongs(original, null);
                for (int i = 0; i < a.length; i++) {
                    changed += a[i] != b[i] ? 1 : 0;
                }
            }
            assertThat(changed).as("integer weights that moved").isPositive();
            // scales, zero points and the graph stay as the quantizer made them
            assertThat(model.graph().getNodeList()).extracting(NodeProto::getOpType)
                    .containsExactlyElementsOf(before.graph().getNodeList().stream().map(NodeProto::getOpType).toList());
            for (TensorProto t : before.graph().getInitializerList()) {
                if (trainer.parameters().stream().noneMatch(p -> p.name().equals(t.getName()))) {
                    assertThat(Weights.find(model, t.getName())).as(t.getName()).contains(t);
                }
            }
            Path file = dir.resolve("qat.onnx");
            model.write(file);
            OrtReference.Values trained = OrtReference.run(java.nio.file.Files.readAllBytes(file), feeds, true).get("logits");
            assertThat(OrtReference.maxAbsDifference(trained, trainerLogits(trainer.module(), x, n)))
                    .as("written-back QDQ model vs trainer").isLessThan(0.01 * range);
            OnnxChecker.assertValid(file);
        }
    }
}
