package io.modelpress.core.testing;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Every float output of a model run once in ONNX Runtime, by name (flattened); feeds are float or int64 tensors. */
public final class OrtOutputs {
    private OrtOutputs() {
    }

    /** An int64 input with its shape. */
    public record Longs(long[] data, long... shape) {
    }

    /** Feeds are {@link Ort.Floats}, {@link Longs} or Boolean scalars. */
    public static Map<String, float[]> run(Path model, Map<String, Object> feeds) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toString(), options)) {
                for (var e : feeds.entrySet()) {
                    tensors.put(e.getKey(), tensor(env, e.getKey(), e.getValue()));
                }
                Map<String, float[]> outputs = new LinkedHashMap<>();
                try (OrtSession.Result result = session.run(tensors)) {
                    for (Map.Entry<String, OnnxValue> out : result) {
                        FloatBuffer buffer = ((OnnxTensor) out.getValue()).getFloatBuffer();
                        float[] values = new float[buffer.remaining()];
                        buffer.get(values);
                        outputs.put(out.getKey(), values);
                    }
                }
                return outputs;
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + model + ": " + e.getMessage(), e);
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    private static OnnxTensor tensor(OrtEnvironment env, String name, Object value) throws OrtException {
        if (value instanceof Ort.Floats f) {
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(f.data()), f.shape());
        }
        if (value instanceof Longs l) {
            return OnnxTensor.createTensor(env, LongBuffer.wrap(l.data()), l.shape());
        }
        if (value instanceof Boolean b) {
            return OnnxTensor.createTensor(env, b);
        }
        throw new IllegalArgumentException("feed " + name + " is neither Ort.Floats, OrtOutputs.Longs nor a Boolean scalar: " + value);
    }
}
