package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.convert.Float16Converter;
import io.modelpress.core.onnx.OnnxModel;

/** Converts the model's float type (fp16 today), keeping float32 at the edges unless told otherwise. */
final class ConvertStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        context.progress().progress(0.0, "reading " + context.input().getFileName());
        OnnxModel model = OnnxModel.read(context.input());
        context.progress().progress(0.2, "converting to " + context.spec().string("to"));
        ObjectNode json = Float16Converter.convert(model, context.spec()).toJson();
        model.write(context.outputModel());
        json.put("input_bytes", OnnxModel.fileBytes(context.input()));
        json.put("output_bytes", OnnxModel.fileBytes(context.outputModel()));
        return new StageOutcome(context.outputModel(), json, null);
    }
}
