package io.modelpress.core.testing;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Minimal direct ONNX Runtime calls for tests that judge a model independently of ModelPress's evaluator. */
public final class Ort {
    private Ort() {
    }

    /** Feeds are float arrays (with shapes) or booleans (scalars); returns the first output, flattened. */
    public static float[] runFirstOutput(Path model, Map<String, Object> feeds) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toString(), options)) {
                for (var e : feeds.entrySet()) {
                    tensors.put(e.getKey(), tensor(env, e.getValue()));
                }
                try (OrtSession.Result result = session.run(tensors)) {
                    OnnxTensor out = (OnnxTensor) result.get(0);
                    FloatBuffer buffer = out.getFloatBuffer();
                    float[] values = new float[buffer.remaining()];
                    buffer.get(values);
                    return values;
                }
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + model + ": " + e.getMessage(), e);
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    /** A float input with its shape. */
    public record Floats(float[] data, long... shape) {
    }

    private static OnnxTensor tensor(OrtEnvironment env, Object value) throws OrtException {
        if (value instanceof Floats f) {
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(f.data()), f.shape());
        }
        if (value instanceof Boolean b) {
            return OnnxTensor.createTensor(env, b);
        }
        return OnnxTensor.createTensor(env, value);
    }
}
