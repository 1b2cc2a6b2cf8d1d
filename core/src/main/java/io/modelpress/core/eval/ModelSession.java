package io.modelpress.core.eval;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxRuntimeEnvironment;
import io.modelpress.core.onnx.ValueShape;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An ONNX Runtime inference session for one model file. Inputs and outputs are plain {@link HostArray}s: every native
 * tensor and result is created and closed inside {@link #run}, so nothing native outlives a call except the session,
 * which {@link #close} releases.
 */
public final class ModelSession implements AutoCloseable {
    private final Path path;
    private final OrtSession.SessionOptions options;
    private final OrtSession session;
    private final List<ValueShape> inputs;
    private final List<ValueShape> outputs;
    private final Set<String> tensorOutputNames;

    private ModelSession(Path path, OrtSession.SessionOptions options, OrtSession session) throws OrtException {
        this.path = path;
        this.options = options;
        this.session = session;
        this.inputs = describe(session.getInputInfo());
        List<ValueShape> tensorOutputs = new ArrayList<>();
        for (ValueShape output : describe(session.getOutputInfo())) {
            if (output.type() != null) {
                tensorOutputs.add(output);
            }
        }
        this.outputs = List.copyOf(tensorOutputs);
        this.tensorOutputNames = new LinkedHashSet<>();
        tensorOutputs.forEach(o -> tensorOutputNames.add(o.name()));
    }

    /** Loads a model (external data files are found beside it). ONNX Runtime failures become RUNTIME_ERROR. */
    public static ModelSession open(Path model, SessionSettings settings) {
        String where = "model " + model.getFileName();
        if (!Files.isRegularFile(model)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, where, "does not exist");
        }
        OrtEnvironment env = OnnxRuntimeEnvironment.get();
        OrtSession.SessionOptions options;
        try {
            options = settings.sessionOptions();
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, where, "ONNX Runtime cannot set up a session: " + ortMessage(e), e);
        }
        try {
            OrtSession session = env.createSession(model.toAbsolutePath().toString(), options);
            try {
                ModelSession result = new ModelSession(model, options, session);
                if (result.outputs.isEmpty()) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, where, "has no tensor outputs to evaluate");
                }
                return result;
            } catch (OrtException | RuntimeException e) {
                session.close();
                throw e;
            }
        } catch (OrtException e) {
            options.close();
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, where, "ONNX Runtime cannot load it: " + ortMessage(e), e);
        } catch (RuntimeException e) {
            options.close();
            throw e;
        }
    }

    /**
     * ONNX Runtime's message without its error-code preamble ("Error code - ORT_FAIL - message: ") and with its nested
     * "Non-zero status code returned while running X node. Name:'n' Status Message: " chain shortened to
     * "X node 'n': ", so the user reads which node failed and why.
     */
    static String ortMessage(OrtException e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().strip();
        message = message.replaceFirst("^Error code - \\w+ - message: ", "");
        return message.replaceAll("Non-zero status code returned while running (\\S+) node\\. Name:'([^']*)' Status Message: ", "$1 node '$2': ");
    }

    private static List<ValueShape> describe(Map<String, NodeInfo> infos) {
        List<ValueShape> shapes = new ArrayList<>();
        for (NodeInfo node : infos.values()) {
            if (!(node.getInfo() instanceof TensorInfo tensor)) {
                shapes.add(new ValueShape(node.getName(), null, List.of(), false));
                continue;
            }
            DataType type = dataType(tensor.onnxType);
            long[] dims = tensor.getShape();
            String[] names = tensor.getDimensionNames();
            List<ValueShape.Dim> list = new ArrayList<>();
            for (int i = 0; i < dims.length; i++) {
                String param = i < names.length && names[i] != null && !names[i].isEmpty() ? names[i] : null;
                list.add(new ValueShape.Dim(dims[i] >= 0 ? dims[i] : -1, dims[i] >= 0 ? null : param));
            }
            shapes.add(new ValueShape(node.getName(), type, List.copyOf(list), true));
        }
        return List.copyOf(shapes);
    }

    /** ONNX Runtime's element type as ours (the names agree; ORT's numbering does not follow ONNX's), or null. */
    private static DataType dataType(TensorInfo.OnnxTensorType ortType) {
        String name = ortType.name().substring("ONNX_TENSOR_ELEMENT_DATA_TYPE_".length());
        for (DataType type : DataType.values()) {
            if (type.name().equals(name)) {
                return type;
            }
        }
        return null;
    }

    public Path path() {
        return path;
    }

    /** The model's inputs in declaration order, with element types and (possibly symbolic) dimensions. */
    public List<ValueShape> inputs() {
        return inputs;
    }

    /** The model's tensor outputs in declaration order (non-tensor outputs such as maps are left out). */
    public List<ValueShape> outputs() {
        return outputs;
    }

    /**
     * Runs the model on one batch. Arrays whose type differs from the declared input type are converted first.
     *
     * @param feeds one array per model input, by input name (extra entries are ignored)
     * @return every tensor output by name, in the model's output order
     */
    public Map<String, HostArray> run(Map<String, HostArray> feeds) {
        OrtEnvironment env = OnnxRuntimeEnvironment.get();
        Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        try {
            for (ValueShape input : inputs) {
                HostArray array = feeds.get(input.name());
                if (array == null) {
                    throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model " + path.getFileName(),
                            "input '" + input.name() + "' is not provided (given: " + String.join(", ", feeds.keySet()) + ")");
                }
                if (input.type() != null && input.type() != array.type()) {
                    array = array.convertTo(input.type());
                }
                tensors.put(input.name(), toTensor(env, array));
            }
            try (OrtSession.Result result = session.run(tensors, tensorOutputNames)) {
                Map<String, HostArray> out = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> entry : result) {
                    if (entry.getValue() instanceof OnnxTensor tensor) {
                        out.put(entry.getKey(), fromTensor(tensor));
                    }
                }
                return out;
            }
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "model " + path.getFileName(),
                    "ONNX Runtime failed to run it: " + ortMessage(e), e);
        } finally {
            tensors.values().forEach(OnnxTensor::close);
        }
    }

    /** An ONNX Runtime tensor over the array's data; the caller closes it. */
    public static OnnxTensor toTensor(OrtEnvironment env, HostArray array) throws OrtException {
        long[] shape = array.shape();
        Buffer buffer = array.buffer();
        return switch (array.type()) {
            case FLOAT -> OnnxTensor.createTensor(env, (FloatBuffer) buffer, shape);
            case DOUBLE -> OnnxTensor.createTensor(env, (DoubleBuffer) buffer, shape);
            case INT64 -> OnnxTensor.createTensor(env, (LongBuffer) buffer, shape);
            case INT32 -> OnnxTensor.createTensor(env, (IntBuffer) buffer, shape);
            case INT8 -> OnnxTensor.createTensor(env, (ByteBuffer) buffer, shape, OnnxJavaType.INT8);
            case UINT8 -> OnnxTensor.createTensor(env, (ByteBuffer) buffer, shape, OnnxJavaType.UINT8);
            case BOOL -> OnnxTensor.createTensor(env, (ByteBuffer) buffer, shape, OnnxJavaType.BOOL);
            case FLOAT16 -> OnnxTensor.createTensor(env, (ShortBuffer) buffer, shape, OnnxJavaType.FLOAT16);
            case BFLOAT16 -> OnnxTensor.createTensor(env, (ShortBuffer) buffer, shape, OnnxJavaType.BFLOAT16);
            default -> throw new IllegalStateException(array.type().toString());
        };
    }

    private HostArray fromTensor(OnnxTensor tensor) {
        TensorInfo info = tensor.getInfo();
        DataType type = dataType(info.onnxType);
        if (type == null) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model " + path.getFileName(), "returned a tensor of unknown element type");
        }
        HostArray out;
        try {
            out = HostArray.zeros(type, info.getShape());
        } catch (ModelPressException e) {
            throw new ModelPressException(e.code(), "model " + path.getFileName(), "an output " + e.getMessage());
        }
        switch (type) {
            case FLOAT -> ((FloatBuffer) out.buffer()).put(tensor.getFloatBuffer());
            case DOUBLE -> ((DoubleBuffer) out.buffer()).put(tensor.getDoubleBuffer());
            case INT64 -> ((LongBuffer) out.buffer()).put(tensor.getLongBuffer());
            case INT32 -> ((IntBuffer) out.buffer()).put(tensor.getIntBuffer());
            case INT8, UINT8, BOOL -> ((ByteBuffer) out.buffer()).put(tensor.getByteBuffer());
            case FLOAT16, BFLOAT16 -> ((ShortBuffer) out.buffer()).put(tensor.getShortBuffer());
            default -> throw new IllegalStateException(type.toString());
        }
        out.buffer().rewind();
        return out;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "model " + path.getFileName(), "ONNX Runtime failed to close it: " + ortMessage(e), e);
        } finally {
            options.close();
        }
    }

    @Override
    public String toString() {
        return "ModelSession[" + path + "]";
    }
}
