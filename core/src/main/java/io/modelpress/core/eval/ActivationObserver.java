package io.modelpress.core.eval;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.OnnxRuntimeEnvironment;
import io.modelpress.core.onnx.TemporaryModel;

import java.nio.FloatBuffer;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Runs a model on calibration data with chosen float intermediate values exposed as outputs, handing each batch's
 * values to a sink. Sinks keep statistics (ranges, histograms), never the activations themselves, so memory stays
 * bounded by one batch.
 */
public final class ActivationObserver {
    private ActivationObserver() {
    }

    @FunctionalInterface
    public interface Sink {
        /** One batch of one value; the buffer is only valid during the call. */
        void accept(String value, FloatBuffer data, long[] shape);
    }

    /**
     * @param values float32 values of the main graph (graph inputs, node outputs)
     * @param threads ONNX Runtime intra-op threads
     * @return number of samples observed
     */
    public static int observe(OnnxModel model, Collection<String> values, CalibrationData data, int maxSamples, int threads, Sink sink) {
        if (data.isEmpty()) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "calibration", "this pass needs sample data (--data) to calibrate on");
        }
        OnnxModel observed = model.copy();
        GraphProto.Builder graph = observed.graph();
        Set<String> outputs = new LinkedHashSet<>();
        graph.getOutputList().forEach(o -> outputs.add(o.getName()));
        for (String value : values) {
            if (!outputs.contains(value)) {
                graph.addOutput(ValueInfoProto.newBuilder().setName(value).setType(TypeProto.newBuilder()
                        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(DataType.FLOAT.onnxId()))));
            }
        }
        Set<String> fetch = new LinkedHashSet<>(values);
        int[] samples = {0};
        OrtEnvironment env = OnnxRuntimeEnvironment.get();
        try (TemporaryModel file = new TemporaryModel(observed);
             OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            // keep every exposed value as it is in the graph: fusions could otherwise remove or reshape them
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.BASIC_OPT);
            try (OrtSession session = env.createSession(file.file().toString(), options)) {
                data.forEachBatch(maxSamples, (inputs, batchSize) -> {
                    try (OrtSession.Result result = session.run(inputs, fetch)) {
                        for (Map.Entry<String, OnnxValue> e : result) {
                            OnnxTensor t = (OnnxTensor) e.getValue();
                            sink.accept(e.getKey(), t.getFloatBuffer(), t.getInfo().getShape());
                        }
                    }
                    samples[0] += batchSize;
                });
            }
        } catch (OrtException e) {
            throw new ModelPressException(ErrorCode.RUNTIME_ERROR, "calibration",
                    "ONNX Runtime failed while observing activations: " + e.getMessage(), e);
        }
        return samples[0];
    }
}
