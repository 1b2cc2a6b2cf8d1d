package io.modelpress.core.transform;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.GraphProtoOrBuilder;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.OnnxRuntimeEnvironment;
import io.modelpress.core.onnx.TemporaryModel;
import io.modelpress.core.onnx.ValueShape;
import io.modelpress.core.onnx.Weights;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import ai.onnxruntime.OrtLoggingLevel;

/**
 * Element type and rank of the tensor values of a graph. Declared types (inputs, outputs, value_info, initializers,
 * Constant nodes) are taken as they are; the rest of the main graph is typed by ONNX Runtime's own type inference:
 * a copy of the model whose outputs are the untyped values is loaded - not run - and the session reports the type
 * it inferred for each.
 */
public final class ValueTypes {
    private ValueTypes() {
    }

    /** A tensor value's element type and rank (-1 when the rank is unknown). */
    public record TensorType(DataType elementType, int rank) {
    }

    /** Types a graph declares itself, without any inference. Values of unknown or non-tensor type are absent. */
    public static Map<String, TensorType> declared(GraphProtoOrBuilder graph) {
        Map<String, TensorType> types = new HashMap<>();
        Stream.of(graph.getInputList(), graph.getOutputList(), graph.getValueInfoList()).flatMap(List::stream)
                .map(ValueShape::of).filter(s -> s.type() != null)
                .forEach(s -> types.put(s.name(), new TensorType(s.type(), s.rankKnown() ? s.dims().size() : -1)));
        for (TensorProto t : graph.getInitializerList()) {
            types.put(t.getName(), new TensorType(DataType.of(t), t.getDimsCount()));
        }
        for (NodeProto node : graph.getNodeList()) {
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1) {
                Weights.constantValue(node).ifPresent(t -> types.put(node.getOutput(0), new TensorType(DataType.of(t), t.getDimsCount())));
            }
        }
        return types;
    }

    /**
     * Types of every tensor value of the main graph, declared or inferred by ONNX Runtime.
     *
     * @throws ModelPressException RUNTIME_ERROR when ONNX Runtime cannot load the model
     */
    public static Map<String, TensorType> infer(OnnxModel model) {
        Map<String, TensorType> types = declared(model.graph());
        Set<String> unknown = new LinkedHashSet<>();
        for (NodeProto node : model.graph().getNodeList()) {
            for (String out : node.getOutputList()) {
                if (!out.isEmpty() && !types.containsKey(out)) {
                    unknown.add(out);
                }
            }
        }
        if (unknown.isEmpty()) {
            return types;
        }
        probe(model, List.copyOf(unknown), types);
        return types;
    }

    /**
     * Asks ONNX Runtime for the types of {@code values} by making them the graph's only outputs. The Java API reports
     * all outputs at once and fails on types it cannot represent (optionals), so on that failure the values are
     * asked for again in halves.
     */
    private static void probe(OnnxModel model, List<String> values, Map<String, TensorType> into) {
        OnnxModel probe = model.copy();
        GraphProto.Builder graph = probe.graph().clearOutput();
        values.forEach(v -> graph.addOutput(ValueInfoProto.newBuilder().setName(v)));
        try (TemporaryModel file = new TemporaryModel(probe);
             OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            options.setIntraOpNumThreads(1);
            options.setSessionLogLevel(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            try (OrtSession session = OnnxRuntimeEnvironment.get().createSession(file.file().toString(), options)) {
                Map<String, NodeInfo> infos;
                try {
                    infos = session.getOutputInfo();
                } catch (OrtException unrepresentable) {
                    if (values.size() > 1) {
                        probe(model, values.subList(0, values.size() / 2), into);
                        probe(model, values.subList(values.size() / 2, values.size()), into);
                    }
                    return;
                }
                for (String value : values) {
                    NodeInfo info = infos.get(value);
                    if (info != null && info.getInfo() instanceof TensorInfo tensor) {
                        dataType(tensor).ifPresent(t -> into.put(value, new TensorType(t, tensor.getShape().length)));
                    }
                }
            }
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "model",
                    "ONNX Runtime could not load the model to infer value types: " + e.getMessage(), e);
        }
    }

    private static Optional<DataType> dataType(TensorInfo info) {
        // the Java enum numbers its constants its own way, but names them after the ONNX element types
        String name = info.onnxType.name().replace("ONNX_TENSOR_ELEMENT_DATA_TYPE_", "");
        try {
            return Optional.of(DataType.valueOf(name));
        } catch (IllegalArgumentException undefinedOrNewerThanThisTool) {
            return Optional.empty();
        }
    }
}
