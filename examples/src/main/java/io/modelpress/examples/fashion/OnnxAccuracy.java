package io.modelpress.examples.fashion;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.examples.fashion.FashionMnist.Split;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;

/** Test-set accuracy of an exported Fashion-MNIST classifier in ONNX Runtime. */
final class OnnxAccuracy {
    private OnnxAccuracy() {
    }

    /** Fraction of the 10,000 test images whose highest logit is the true class; streams the test set. */
    static double of(Path model, Path dataDir, int batchSize) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        int[] correct = {0};
        int[] total = {0};
        try (OrtSession session = env.createSession(model.toString(), new OrtSession.SessionOptions())) {
            String input = session.getInputNames().iterator().next();
            FashionMnist.forEachBatch(dataDir, Split.TEST, batchSize, batch -> {
                long[] shape = {batch.size, 1, FashionMnist.SIDE, FashionMnist.SIDE};
                try (OnnxTensor images = OnnxTensor.createTensor(env, FloatBuffer.wrap(batch.pixels, 0, batch.size * FashionMnist.PIXELS), shape);
                     OrtSession.Result result = session.run(Map.of(input, images))) {
                    FloatBuffer logits = ((OnnxTensor) result.get(0)).getFloatBuffer();
                    float[] values = new float[logits.remaining()];
                    logits.get(values);
                    correct[0] += countCorrect(values, batch.labels, batch.size);
                    total[0] += batch.size;
                }
            });
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "model " + model, "ONNX Runtime failed: " + e.getMessage(), e);
        }
        return (double) correct[0] / total[0];
    }

    /** How many rows of {@code logits} ([count, 10], row-major) have their maximum at the label. */
    static int countCorrect(float[] logits, int[] labels, int count) {
        int classes = logits.length / count;
        int correct = 0;
        for (int row = 0; row < count; row++) {
            int best = 0;
            for (int c = 1; c < classes; c++) {
                if (logits[row * classes + c] > logits[row * classes + best]) {
                    best = c;
                }
            }
            if (best == labels[row]) {
                correct++;
            }
        }
        return correct;
    }
}
