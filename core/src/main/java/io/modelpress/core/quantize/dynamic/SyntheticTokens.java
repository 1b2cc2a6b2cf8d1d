package io.modelpress.core.quantize.dynamic;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.DataType;
import io.modelpress.core.onnx.GraphIndex;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.onnx.ValueShape;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * Inputs for checking an exact rewrite when the user gave no data: the outputs before and after only have to agree,
 * so any valid input will do. Token ids are drawn below the row count of the embedding tables they index (so every
 * lookup is valid), other integer inputs (attention masks) are ones, float inputs Gaussian. Two batches: 2 x 8 and
 * 1 x 5 tokens, for the first two open dimensions of each input; other open dimensions are 1.
 */
final class SyntheticTokens implements CalibrationData {
    private static final long[][] SIZES = {{2, 8}, {1, 5}};

    private final List<ValueShape> inputs;
    private final Map<String, Long> idLimits;

    private SyntheticTokens(List<ValueShape> inputs, Map<String, Long> idLimits) {
        this.inputs = inputs;
        this.idLimits = idLimits;
    }

    /** Empty when an input has a type these inputs cannot be made for. */
    static Optional<CalibrationData> of(OnnxModel model) {
        List<ValueShape> inputs = model.inputs();
        GraphIndex index = new GraphIndex(model.graph());
        Map<String, Long> limits = new HashMap<>();
        for (ValueShape input : inputs) {
            if (input.type() == null || !(input.type() == DataType.FLOAT || input.type() == DataType.INT64
                    || input.type() == DataType.INT32) || !input.rankKnown()) {
                return Optional.empty();
            }
            for (NodeProto consumer : index.consumerNodes(input.name())) {
                Optional<TensorProto> table = consumer.getOpType().equals("Gather") && consumer.getInput(1).equals(input.name())
                        ? model.constant(consumer.getInput(0)) : Optional.empty();
                if (table.isPresent() && Tensors.dims(table.get()).length > 0) {
                    limits.merge(input.name(), Tensors.dims(table.get())[0], Math::min);
                }
            }
        }
        return Optional.of(new SyntheticTokens(inputs, limits));
    }

    @Override
    public void forEachBatch(int maxSamples, BatchConsumer consumer) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Random random = new Random(42);
        int used = 0;
        for (long[] size : SIZES) {
            if (used >= maxSamples) {
                return;
            }
            Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
            try {
                for (ValueShape input : inputs) {
                    feeds.put(input.name(), tensor(env, input, size, random));
                }
                consumer.accept(feeds, (int) size[0]);
            } catch (OrtException e) {
                throw new IllegalStateException("synthetic inputs: " + e.getMessage(), e);
            } finally {
                feeds.values().forEach(OnnxTensor::close);
            }
            used += (int) size[0];
        }
    }

    private OnnxTensor tensor(OrtEnvironment env, ValueShape input, long[] size, Random random) throws OrtException {
        long[] dims = new long[input.dims().size()];
        int open = 0;
        for (int i = 0; i < dims.length; i++) {
            ValueShape.Dim d = input.dims().get(i);
            dims[i] = d.isFixed() ? d.value() : open < size.length ? size[open++] : 1;
        }
        int count = (int) Tensors.elementCount(dims, "synthetic input '" + input.name() + "'");
        Long limit = idLimits.get(input.name());
        if (input.type() == DataType.FLOAT) {
            float[] values = new float[count];
            for (int i = 0; i < count; i++) {
                values[i] = (float) random.nextGaussian();
            }
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(values), dims);
        }
        long[] values = new long[count];
        for (int i = 0; i < count; i++) {
            values[i] = limit == null ? 1 : random.nextInt((int) Math.max(1, Math.min(limit, Integer.MAX_VALUE)));
        }
        if (input.type() == DataType.INT32) {
            int[] ints = new int[count];
            for (int i = 0; i < count; i++) {
                ints[i] = (int) values[i];
            }
            return OnnxTensor.createTensor(env, IntBuffer.wrap(ints), dims);
        }
        return OnnxTensor.createTensor(env, LongBuffer.wrap(values), dims);
    }
}
