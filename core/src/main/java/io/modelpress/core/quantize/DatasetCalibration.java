package io.modelpress.core.quantize;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.Batch;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.Dataset;
import io.modelpress.core.data.Datasets;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.eval.ModelSession;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.OnnxRuntimeEnvironment;
import io.modelpress.core.onnx.ValueShape;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Calibration batches read from a data file (npz/npy, IDX, JSONL + tokenizer) with the evaluation engine's readers;
 * a null file gives the seeded synthetic inputs of {@link Datasets#open}.
 */
public final class DatasetCalibration implements CalibrationData {
    private static final int BATCH = 16;

    private final Path data;
    private final List<ValueShape> inputs;
    private final DataOptions options;

    public DatasetCalibration(Path data, List<ValueShape> modelInputs, DataOptions options) {
        this.data = data;
        this.inputs = List.copyOf(modelInputs);
        this.options = options;
    }

    /** Calibration data for a model, or {@link CalibrationData#NONE} when no data file is given. */
    public static CalibrationData forModel(OnnxModel model, Path data, Path tokenizer) {
        return forModel(model, data, tokenizer, InputHints.NONE);
    }

    /** As above; {@code hints} fill the inputs the data file does not hold (e.g. a sample rate). */
    public static CalibrationData forModel(OnnxModel model, Path data, Path tokenizer, InputHints hints) {
        if (data == null) {
            return NONE;
        }
        // a folder of IDX files has train and test splits: calibrate on train, so evaluation (test) stays unseen
        return new DatasetCalibration(data, model.inputs(), DataOptions.DEFAULT.withTokenizer(tokenizer).withSplit("train").withHints(hints));
    }

    @Override
    public void forEachBatch(int maxSamples, BatchConsumer consumer) {
        OrtEnvironment env = OnnxRuntimeEnvironment.get();
        int seen = 0;
        try (Dataset dataset = Datasets.open(data, inputs, options)) {
            while (seen < maxSamples) {
                Batch batch = dataset.next(Math.min(BATCH, maxSamples - seen));
                if (batch == null) {
                    break;
                }
                Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
                try {
                    for (ValueShape input : inputs) {
                        HostArray array = batch.inputs().get(input.name());
                        if (input.type() != null && array.type() != input.type()) {
                            array = array.convertTo(input.type());
                        }
                        tensors.put(input.name(), ModelSession.toTensor(env, array));
                    }
                    consumer.accept(tensors, batch.size());
                } catch (OrtException e) {
                    // made-up inputs that ONNX Runtime refuses: the dataset says what was guessed and how to give it
                    throw dataset.explain(new ModelPressException(ErrorCode.RUNTIME_ERROR, where(), e.getMessage(), e));
                } catch (ModelPressException e) {
                    throw dataset.explain(e);
                } finally {
                    tensors.values().forEach(OnnxTensor::close);
                }
                seen += batch.size();
            }
        }
        if (seen == 0) {
            throw new ModelPressException(ErrorCode.BAD_DATA, where(), "holds no samples");
        }
    }

    private String where() {
        return data == null ? "synthetic inputs" : "calibration data " + data.getFileName();
    }
}
