package io.modelpress.train.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.transform.OnnxTestCase;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** ONNX Runtime as the reference the trainer's forward pass is judged against, and comparison helpers. */
final class OrtReference {
    private OrtReference() {
    }

    /** A tensor's values as doubles, with its shape. */
    record Values(long[] shape, double[] data) {
    }

    /** Runs a model in ONNX Runtime (1 thread; all graph optimizations unless {@code literal}) and returns every output. */
    static Map<String, Values> run(ModelProto model, Map<String, TensorProto> feeds, boolean literal) {
        return run(model.toByteArray(), feeds, literal);
    }

    static Map<String, Values> run(byte[] model, Map<String, TensorProto> feeds, boolean literal) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            if (literal) {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            }
            try (OrtSession session = env.createSession(model, options)) {
                for (var e : feeds.entrySet()) {
                    tensors.put(e.getKey(), OnnxTestCase.tensor(env, e.getValue()));
                }
                try (OrtSession.Result result = session.run(tensors)) {
                    Map<String, Values> out = new LinkedHashMap<>();
                    for (Map.Entry<String, OnnxValue> e : result) {
                        out.put(e.getKey(), values((OnnxTensor) e.getValue()));
                    }
                    return out;
                }
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    private static Values values(OnnxTensor tensor) {
        long[] shape = tensor.getInfo().getShape();
        double[] data = new double[(int) tensor.getInfo().getNumElements()];
        switch (tensor.getInfo().type) {
            case FLOAT -> {
                FloatBuffer b = tensor.getFloatBuffer();
                for (int i = 0; i < data.length; i++) {
                    data[i] = b.get(i);
                }
            }
            case DOUBLE -> {
                DoubleBuffer b = tensor.getDoubleBuffer();
                b.get(data);
            }
            case INT64 -> {
                LongBuffer b = tensor.getLongBuffer();
                for (int i = 0; i < data.length; i++) {
                    data[i] = b.get(i);
                }
            }
            case INT32 -> {
                IntBuffer b = tensor.getIntBuffer();
                for (int i = 0; i < data.length; i++) {
                    data[i] = b.get(i);
                }
            }
            case INT8, BOOL -> {
                ByteBuffer b = tensor.getByteBuffer();
                for (int i = 0; i < data.length; i++) {
                    data[i] = b.get(i);
                }
            }
            case UINT8 -> {
                ByteBuffer b = tensor.getByteBuffer();
                for (int i = 0; i < data.length; i++) {
                    data[i] = b.get(i) & 0xff;
                }
            }
            default -> throw new AssertionError("no comparison for ONNX Runtime outputs of type " + tensor.getInfo().type);
        }
        return new Values(shape, data);
    }

    static Values values(NDArray array) {
        try (NDArray doubles = array.toType(ai.djl.ndarray.types.DataType.FLOAT64, true)) {
            return new Values(array.getShape().getShape(), doubles.toDoubleArray());
        }
    }

    /** Feeds as the trainer takes them. */
    static Map<String, NDArray> arrays(NDManager manager, Map<String, TensorProto> feeds) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        feeds.forEach((name, t) -> out.put(name, OnnxTensors.toArray(manager, t, null)));
        return out;
    }

    /** Largest |actual - expected| / (atol / rtol + |expected|) scaled so that <= rtol passes; asserts shapes equal. */
    static void assertClose(String what, Values expected, Values actual, double atol, double rtol) {
        assertThat(actual.shape()).as(what + " shape").containsExactly(expected.shape());
        for (int i = 0; i < expected.data().length; i++) {
            double e = expected.data()[i];
            double a = actual.data()[i];
            boolean same = Double.compare(e, a) == 0 || Math.abs(a - e) <= atol + rtol * Math.abs(e);
            if (!same) {
                throw new AssertionError(what + "[" + i + "]: expected " + e + ", got " + a
                        + "; |difference| " + Math.abs(a - e) + " > " + atol + " + " + rtol + " * |expected|");
            }
        }
    }

    static double maxAbsDifference(Values expected, Values actual) {
        double max = 0;
        for (int i = 0; i < expected.data().length; i++) {
            max = Math.max(max, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        return max;
    }

    static double cosine(double[] a, double[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    static TensorProto randomFloats(String name, Random random, double scale, double offset, long... shape) {
        float[] v = new float[(int) Tensors.elementCount(shape, name)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * scale + offset);
        }
        return Tensors.ofFloats(name, shape, v);
    }

    static TensorProto positiveFloats(String name, Random random, long... shape) {
        float[] v = new float[(int) Tensors.elementCount(shape, name)];
        for (int i = 0; i < v.length; i++) {
            v[i] = 0.1f + 2 * random.nextFloat();
        }
        return Tensors.ofFloats(name, shape, v);
    }

    static ByteBuffer littleEndian(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
