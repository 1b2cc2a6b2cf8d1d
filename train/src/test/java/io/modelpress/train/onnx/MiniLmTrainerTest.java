package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ReferenceModels;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The full all-MiniLM-L6-v2 encoder (opset 11, 637 nodes, weights in initializers, shapes computed in the graph
 * from Shape/Gather/Unsqueeze/Concat chains) runs in the trainer as in ONNX Runtime, at two sequence lengths with
 * padding, and trains.
 */
class MiniLmTrainerTest {
    private static Path file;
    private static byte[] bytes;

    @BeforeAll
    static void model() throws Exception {
        file = ReferenceModels.minilm();
        bytes = Files.readAllBytes(file);
    }

    /** Token ids (random, in the vocabulary), the attention mask with {@code padding} trailing pads in row 1, types 0. */
    private static Map<String, TensorProto> tokens(int batch, int length, int padding, long seed) {
        Random random = new Random(seed);
        long[] ids = new long[batch * length];
        long[] mask = new long[batch * length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                boolean pad = b == 1 && t >= length - padding;
                ids[b * length + t] = pad ? 0 : t == 0 ? 101 : 1000 + random.nextInt(28000);
                mask[b * length + t] = pad ? 0 : 1;
            }
        }
        long[] shape = {batch, length};
        Map<String, TensorProto> feeds = new LinkedHashMap<>();
        feeds.put("input_ids", Tensors.ofLongs("input_ids", shape, ids));
        feeds.put("attention_mask", Tensors.ofLongs("attention_mask", shape, mask));
        feeds.put("token_type_ids", Tensors.ofLongs("token_type_ids", shape, new long[batch * length]));
        return feeds;
    }

    @Test
    void forwardPassMatchesOnnxRuntimeAtTwoSequenceLengths() {
        try (OnnxGraphModule module = OnnxGraphModule.load(OnnxModel.read(file))) {
            long weights = module.parameters().stream().mapToLong(p -> p.shape().size()).sum();
            assertThat(weights).as("trainable weights of MiniLM-L6").isBetween(22_000_000L, 23_000_000L);
            for (int[] shape : new int[][] {{2, 12, 4}, {3, 7, 2}}) {
                Map<String, TensorProto> feeds = tokens(shape[0], shape[1], shape[2], shape[1]);
                OrtReference.Values ort = OrtReference.run(bytes, feeds, false).get("last_hidden_state");
                OrtReference.Values djl;
                try (NDManager scope = NDManager.newBaseManager()) {
                    djl = OrtReference.values(module.predict(scope, OrtReference.arrays(scope, feeds), List.of("last_hidden_state"))
                            .get("last_hidden_state"));
                }
                assertThat(djl.shape()).containsExactly(ort.shape());
                double cosine = OrtReference.cosine(ort.data(), djl.data());
                double worstToken = 1;
                int hidden = (int) ort.shape()[2];
                for (int token = 0; token < ort.data().length / hidden; token++) {
                    double[] a = java.util.Arrays.copyOfRange(ort.data(), token * hidden, (token + 1) * hidden);
                    double[] b = java.util.Arrays.copyOfRange(djl.data(), token * hidden, (token + 1) * hidden);
                    worstToken = Math.min(worstToken, OrtReference.cosine(a, b));
                }
                System.out.printf("MiniLM %dx%d: cosine %.8f, worst token %.8f, max |diff| %.2g%n", shape[0], shape[1], cosine,
                        worstToken, OrtReference.maxAbsDifference(ort, djl));
                assertThat(cosine).isGreaterThan(0.9999);
                assertThat(worstToken).isGreaterThan(0.9999);
            }
        }
    }

    @Test
    void encoderTrainsTowardATarget() {
        OnnxTrainer.Options options = OnnxTrainer.Options.defaults().withSchedule(LearningRateSchedule.constant(1e-4));
        try (OnnxTrainer trainer = OnnxTrainer.create(OnnxModel.read(file), options)) {
            List<Float> losses = new ArrayList<>();
            for (int step = 0; step < 4; step++) {
                try (TrainingStep s = trainer.newStep()) {
                    Map<String, NDArray> feeds = OrtReference.arrays(s.manager(), tokens(2, 10, 3, 5));
                    NDArray hidden = s.forward(feeds, List.of("last_hidden_state")).get("last_hidden_state");
                    NDArray target = s.manager().ones(new Shape(2, 10, 384)).mul(0.1);
                    losses.add(s.backward(Losses.meanSquaredError(hidden, target)));
                }
                trainer.optimizerStep();
            }
            System.out.println("MiniLM MSE toward a constant target: " + losses);
            assertThat(losses.get(3)).isLessThan(losses.get(0));
        }
    }
}
