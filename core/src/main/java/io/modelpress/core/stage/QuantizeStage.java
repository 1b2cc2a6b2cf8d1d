package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.CalibrationData;
import io.modelpress.core.quantize.DatasetCalibration;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.StageSpec;

import java.util.Map;

/** Quantizes the model in the recipe's mode; the per-node report and the size change go into the stage report. */
final class QuantizeStage implements Stage {
    /** One quantization mode: edits the model in place and says what it did. */
    @FunctionalInterface
    interface Mode {
        QuantizationReport apply(OnnxModel model, StageSpec spec, CalibrationData data);
    }

    private final Map<String, Mode> modes;

    QuantizeStage(Map<String, Mode> modes) {
        this.modes = Map.copyOf(modes);
    }

    @Override
    public StageOutcome run(StageContext context) {
        String modeName = context.spec().string("mode");
        Mode mode = modes.get(modeName);
        if (mode == null) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, context.spec().label(), "quantization mode '" + modeName
                    + "' is not available in this version (available: " + String.join(", ", modes.keySet()) + ")");
        }
        context.progress().progress(0.0, "reading " + context.input().getFileName());
        OnnxModel model = OnnxModel.read(context.input());
        CalibrationData data = DatasetCalibration.forModel(model, context.calibrationData(), context.tokenizer(), context.hints());
        context.progress().progress(0.1, "quantizing (" + modeName + ")");
        QuantizationReport report = mode.apply(model, context.spec(), data);
        context.progress().progress(0.9, "writing the quantized model");
        model.write(context.outputModel());
        ObjectNode json = report.toJson();
        json.put("input_bytes", OnnxModel.fileBytes(context.input()));
        json.put("output_bytes", OnnxModel.fileBytes(context.outputModel()));
        return new StageOutcome(context.outputModel(), json, null);
    }
}
