package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.recipe.StageSpec;

import java.util.Map;

/**
 * Quantizes the model in the recipe's mode; the per-node report and the size change go into the stage report. A model
 * with nothing the mode can quantize passes through unchanged, and the report's {@code notes.result} says why.
 */
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
        boolean unchanged = report.quantizedCount() == 0;
        if (unchanged) {
            // whatever the mode prepared (an opset upgrade, folded BatchNorms, ...) buys nothing without quantized nodes
            if (!report.notes().containsKey(QuantizationReport.RESULT)) {
                report.nothingToQuantize("node this mode can quantize");
            }
            context.progress().progress(0.9, "nothing to quantize: passing the model through unchanged");
            // read and written untouched, a model is reproduced byte for byte (external data files included)
            OnnxModel.read(context.input()).write(context.outputModel());
        } else {
            context.progress().progress(0.9, "writing the quantized model");
            model.write(context.outputModel());
        }
        ObjectNode json = report.toJson();
        json.put("unchanged", unchanged);
        json.put("input_bytes", OnnxModel.fileBytes(context.input()));
        json.put("output_bytes", OnnxModel.fileBytes(context.outputModel()));
        return new StageOutcome(context.outputModel(), json, null);
    }
}
