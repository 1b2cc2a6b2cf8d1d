package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * One case of the ONNX backend test data ({@code model.onnx} with {@code test_data_set_N/input_K.pb} TensorProto
 * files), fed to ONNX Runtime directly.
 */
public record OnnxTestCase(Path dir, List<Map<String, TensorProto>> inputSets) {
    public static final Path CORPUS = Path.of("/usr/share/libonnx-testdata/data");
    /** uint16, uint32, uint64: element types without a Java tensor factory in ONNX Runtime. */
    private static final Set<Integer> UNSIGNED_WIDE = Set.of(DataType.UINT16.onnxId(), DataType.UINT32.onnxId(), DataType.UINT64.onnxId());

    /** Every case under the corpus folders, in a stable order. */
    public static List<Path> all() throws IOException {
        List<Path> dirs = new ArrayList<>();
        for (String group : List.of("node", "pytorch-converted", "pytorch-operator", "simple")) {
            Path g = CORPUS.resolve(group);
            if (Files.isDirectory(g)) {
                try (Stream<Path> s = Files.list(g)) {
                    s.filter(d -> Files.isRegularFile(d.resolve("model.onnx"))).sorted().forEach(dirs::add);
                }
            }
        }
        return dirs;
    }

    /** Reads the test inputs, named after the model's graph inputs (the files' own names are often empty). */
    public static OnnxTestCase load(Path dir, OnnxModel model) throws IOException {
        Set<String> initializers = new HashSet<>();
        model.graph().getInitializerList().forEach(t -> initializers.add(t.getName()));
        List<String> inputNames = new ArrayList<>();
        for (ValueInfoProto input : model.graph().getInputList()) {
            if (initializers.contains(input.getName())) {
                continue;
            }
            if (!input.getType().hasTensorType() || UNSIGNED_WIDE.contains(input.getType().getTensorType().getElemType())) {
                throw new UnsupportedOperationException("input '" + input.getName() + "' is of a type ONNX Runtime's Java API cannot create");
            }
            inputNames.add(input.getName());
        }
        List<Map<String, TensorProto>> sets = new ArrayList<>();
        List<Path> setDirs;
        try (Stream<Path> s = Files.list(dir)) {
            setDirs = s.filter(p -> p.getFileName().toString().startsWith("test_data_set_")).sorted().toList();
        }
        for (Path set : setDirs) {
            Map<String, TensorProto> feeds = new LinkedHashMap<>();
            for (int i = 0; Files.isRegularFile(set.resolve("input_" + i + ".pb")); i++) {
                try (InputStream in = Files.newInputStream(set.resolve("input_" + i + ".pb"))) {
                    TensorProto t = TensorProto.parseFrom(in);
                    String name = !t.getName().isEmpty() && inputNames.contains(t.getName()) ? t.getName()
                            : i < inputNames.size() ? inputNames.get(i) : t.getName();
                    feeds.put(name, t);
                }
            }
            sets.add(feeds);
        }
        return new OnnxTestCase(dir, sets);
    }

    /** A model's outputs for one input set, each rendered comparable: floats as arrays, the rest as text. */
    public record Outputs(Map<String, Object> values) {
    }

    public static List<Outputs> run(Path model, List<Map<String, TensorProto>> inputSets) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<Outputs> all = new ArrayList<>();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            // models ONNX Runtime refuses are expected in the corpus; the exception says why
            options.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            try (OrtSession session = env.createSession(model.toString(), options)) {
                for (Map<String, TensorProto> set : inputSets) {
                    Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
                    try {
                        for (var e : set.entrySet()) {
                            feeds.put(e.getKey(), tensor(env, e.getValue()));
                        }
                        try (OrtSession.Result result = session.run(feeds)) {
                            Map<String, Object> values = new LinkedHashMap<>();
                            for (Map.Entry<String, OnnxValue> e : result) {
                                values.put(e.getKey(), comparable(e.getValue()));
                            }
                            all.add(new Outputs(values));
                        }
                    } finally {
                        feeds.values().forEach(OnnxTensor::close);
                    }
                }
            }
        }
        return all;
    }

    public static OnnxTensor tensor(OrtEnvironment env, TensorProto t) throws OrtException {
        long[] shape = Tensors.dims(t);
        DataType type = DataType.of(t);
        if (type == DataType.STRING) {
            return OnnxTensor.createTensor(env, t.getStringDataList().stream().map(b -> b.toStringUtf8()).toArray(String[]::new), shape);
        }
        OnnxJavaType javaType = switch (type) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case INT8 -> OnnxJavaType.INT8;
            case INT16 -> OnnxJavaType.INT16;
            case INT32 -> OnnxJavaType.INT32;
            case INT64 -> OnnxJavaType.INT64;
            case BOOL -> OnnxJavaType.BOOL;
            case UINT8 -> OnnxJavaType.UINT8;
            case FLOAT16 -> OnnxJavaType.FLOAT16;
            case BFLOAT16 -> OnnxJavaType.BFLOAT16;
            default -> throw new UnsupportedOperationException("ONNX Runtime's Java API has no " + type.displayName() + " tensors");
        };
        ByteBuffer raw = Tensors.bytes(t, null);
        ByteBuffer direct = ByteBuffer.allocateDirect(Math.max(1, raw.remaining())).order(ByteOrder.nativeOrder());
        // ONNX raw data is little-endian, as is every platform ONNX Runtime's Java build ships for
        direct.put(raw.duplicate().order(ByteOrder.LITTLE_ENDIAN)).flip();
        return OnnxTensor.createTensor(env, direct, shape, javaType);
    }

    private static Object comparable(OnnxValue value) throws OrtException {
        if (value instanceof OnnxTensor t) {
            TensorInfo info = t.getInfo();
            String shape = Arrays.toString(info.getShape());
            return switch (info.type) {
                case FLOAT -> new FloatValues(shape, toArray(t.getFloatBuffer()));
                case DOUBLE -> new FloatValues(shape, toArray(t.getDoubleBuffer()));
                case FLOAT16, BFLOAT16 -> new FloatValues(shape, halfs(t, info.type));
                case STRING -> shape + Arrays.deepToString(new Object[] {t.getValue()});
                default -> shape + info.type + bytes(t.getByteBuffer());
            };
        }
        return value.getType() + ":" + String.valueOf(value.getValue());
    }

    public record FloatValues(String shape, double[] values) {
    }

    private static double[] toArray(java.nio.FloatBuffer b) {
        double[] out = new double[b.remaining()];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.get(i);
        }
        return out;
    }

    private static double[] toArray(java.nio.DoubleBuffer b) {
        double[] out = new double[b.remaining()];
        b.get(out);
        return out;
    }

    private static double[] halfs(OnnxTensor t, OnnxJavaType type) {
        ByteBuffer b = t.getByteBuffer().order(ByteOrder.nativeOrder());
        double[] out = new double[b.remaining() / 2];
        for (int i = 0; i < out.length; i++) {
            short s = b.getShort(i * 2);
            out[i] = type == OnnxJavaType.FLOAT16 ? io.modelpress.core.onnx.Float16.toFloat(s) : io.modelpress.core.onnx.Float16.bfloat16ToFloat(s);
        }
        return out;
    }

    private static String bytes(ByteBuffer b) {
        byte[] data = new byte[b.remaining()];
        b.get(data);
        return Arrays.toString(data);
    }

    /** Null when equal (floats within a relative 1e-5, NaN matching NaN), else what differs. */
    public static String difference(Outputs expected, Outputs actual) {
        if (!expected.values().keySet().equals(actual.values().keySet())) {
            return "outputs " + expected.values().keySet() + " vs " + actual.values().keySet();
        }
        for (var e : expected.values().entrySet()) {
            Object a = actual.values().get(e.getKey());
            if (e.getValue() instanceof FloatValues fe && a instanceof FloatValues fa) {
                if (!fe.shape().equals(fa.shape())) {
                    return e.getKey() + ": shape " + fe.shape() + " vs " + fa.shape();
                }
                for (int i = 0; i < fe.values().length; i++) {
                    double x = fe.values()[i];
                    double y = fa.values()[i];
                    boolean same = Double.compare(x, y) == 0 || Math.abs(x - y) <= 1e-5 + 1e-5 * Math.abs(x);
                    if (!same) {
                        return e.getKey() + "[" + i + "]: " + x + " vs " + y;
                    }
                }
            } else if (!e.getValue().equals(a)) {
                return e.getKey() + ": " + abbreviate(e.getValue()) + " vs " + abbreviate(a);
            }
        }
        return null;
    }

    private static String abbreviate(Object o) {
        String s = String.valueOf(o);
        return s.length() > 120 ? s.substring(0, 120) + "..." : s;
    }
}
