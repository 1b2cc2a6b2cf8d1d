package io.modelpress.core.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Concrete shapes of main-graph values. Shapes the model declares (inputs, outputs, value_info, initializers) are used
 * as they are; the rest are measured by running the model once in ONNX Runtime on zero-filled inputs, with the wanted
 * values exposed as extra outputs. Symbolic input dimensions take the values given (default 1).
 */
public final class ShapeInference {
    private ShapeInference() {
    }

    /** Result: value name -> concrete dims, plus the input dims that were assumed. */
    public record Shapes(Map<String, long[]> shapes, Map<String, Long> assumedDims) {
        public long[] of(String value) {
            return shapes.get(value);
        }

        public boolean knows(String value) {
            return shapes.containsKey(value);
        }
    }

    /** Shapes declared in the model, without running it. Symbolic dims are not resolved. */
    public static Map<String, long[]> declared(OnnxModel model) {
        Map<String, long[]> shapes = new HashMap<>();
        GraphProto.Builder graph = model.graph();
        Stream.of(graph.getInputList(), graph.getOutputList(), graph.getValueInfoList()).flatMap(List::stream)
                .map(ValueShape::of).filter(ValueShape::isFullyKnown)
                .forEach(s -> shapes.put(s.name(), s.concreteDims(0)));
        for (TensorProto t : graph.getInitializerList()) {
            shapes.put(t.getName(), Tensors.dims(t));
        }
        for (var node : graph.getNodeList()) {
            if (Weights.isConstantNode(node) && node.getOutputCount() == 1) {
                Weights.constantValue(node).ifPresent(t -> shapes.put(node.getOutput(0), Tensors.dims(t)));
            }
        }
        return shapes;
    }

    /**
     * Shapes of the requested values, running ONNX Runtime once when the model does not declare them.
     *
     * @param dimValues values for symbolic input dimensions by name (e.g. "sequence" -> 128); others become 1
     */
    public static Shapes infer(OnnxModel model, Collection<String> wanted, Map<String, Long> dimValues) {
        Map<String, long[]> shapes = declared(model);
        Map<String, Long> assumed = new LinkedHashMap<>();
        List<ValueShape> inputs = model.inputs();
        for (ValueShape input : inputs) {
            for (ValueShape.Dim d : input.dims()) {
                if (!d.isFixed()) {
                    assumed.putIfAbsent(dimKey(input, d), dimValues.getOrDefault(dimKey(input, d), 1L));
                }
            }
            shapes.put(input.name(), concreteDims(input, assumed));
        }
        Set<String> missing = new LinkedHashSet<>();
        for (String w : wanted) {
            if (!shapes.containsKey(w)) {
                missing.add(w);
            }
        }
        if (!missing.isEmpty()) {
            shapes.putAll(probe(model, missing, inputs, assumed));
        }
        return new Shapes(shapes, assumed);
    }

    private static Map<String, long[]> probe(OnnxModel model, Set<String> wanted, List<ValueShape> inputs, Map<String, Long> assumed) {
        OnnxModel probe = model.copy();
        GraphProto.Builder graph = probe.graph();
        Set<String> outputs = new LinkedHashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        Set<String> produced = new LinkedHashSet<>();
        graph.getNodeList().forEach(n -> produced.addAll(n.getOutputList()));
        // Expose Shape(value) rather than the value itself: its type (int64 vector) is known without inference,
        // and only a few integers leave the runtime.
        Map<String, String> shapeOutputs = new LinkedHashMap<>();
        for (String w : wanted) {
            if (produced.contains(w) || outputs.contains(w)) {
                String shapeName = w + "__modelpress_shape";
                graph.addNode(Nodes.node("Shape", shapeName, List.of(w), List.of(shapeName)));
                graph.addOutput(Nodes.tensorInfo(shapeName, DataType.INT64, "rank"));
                shapeOutputs.put(shapeName, w);
            }
        }
        OrtEnvironment env = OnnxRuntimeEnvironment.get();
        Map<String, long[]> result = new HashMap<>();
        try (TemporaryModel file = new TemporaryModel(probe);
             OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(file.file().toString(), options)) {
                Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
                try {
                    for (ValueShape input : inputs) {
                        feeds.put(input.name(), zeros(env, session.getInputInfo().get(input.name()), input, assumed));
                    }
                    try (OrtSession.Result run = session.run(feeds, shapeOutputs.keySet())) {
                        for (Map.Entry<String, OnnxValue> e : run) {
                            if (e.getValue() instanceof OnnxTensor t) {
                                result.put(shapeOutputs.get(e.getKey()), (long[]) t.getValue());
                            }
                        }
                    }
                } finally {
                    feeds.values().forEach(OnnxTensor::close);
                }
            }
            return result;
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "model", "ONNX Runtime could not run the model to infer shapes: " + e.getMessage(), e);
        }
    }

    private static String dimKey(ValueShape input, ValueShape.Dim d) {
        return d.param() == null || d.param().isEmpty() ? input.name() + "[?]" : d.param();
    }

    private static long[] concreteDims(ValueShape input, Map<String, Long> assumed) {
        return input.dims().stream().mapToLong(d -> d.isFixed() ? d.value() : assumed.getOrDefault(dimKey(input, d), 1L)).toArray();
    }

    private static OnnxTensor zeros(OrtEnvironment env, NodeInfo info, ValueShape input, Map<String, Long> assumed) throws OrtException {
        long[] dims = concreteDims(input, assumed);
        TensorInfo tensorInfo = (TensorInfo) info.getInfo();
        long count = Tensors.elementCount(dims, "input '" + input.name() + "'");
        int bytes = (int) Math.max(1, count * Math.max(1, tensorInfo.type.size));
        ByteBuffer buffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        return OnnxTensor.createTensor(env, buffer, dims, tensorInfo.type);
    }
}
