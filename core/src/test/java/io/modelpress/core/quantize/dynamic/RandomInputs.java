package io.modelpress.core.quantize.dynamic;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.modelpress.core.eval.CalibrationData;

import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Calibration data of seeded Gaussian float inputs, in batches of the given shapes (first axis = batch). */
record RandomInputs(Map<String, long[]> batchShapes, int batches, long seed) implements CalibrationData {
    @Override
    public void forEachBatch(int maxSamples, BatchConsumer consumer) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Random random = new Random(seed);
        int used = 0;
        for (int b = 0; b < batches && used < maxSamples; b++) {
            Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
            int size = 0;
            try {
                for (var e : batchShapes.entrySet()) {
                    float[] values = new float[(int) java.util.Arrays.stream(e.getValue()).reduce(1, (x, y) -> x * y)];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = (float) random.nextGaussian();
                    }
                    feeds.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(values), e.getValue()));
                    size = (int) e.getValue()[0];
                }
                consumer.accept(feeds, size);
            } catch (OrtException e) {
                throw new IllegalStateException(e);
            } finally {
                feeds.values().forEach(OnnxTensor::close);
            }
            used += size;
        }
    }
}
