package io.modelpress.teststage;

import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;

import java.util.List;

/**
 * Writes one key/value into the model's {@code metadata_props} and leaves the graph as it is, so the output computes
 * exactly what the input does.
 */
final class AnnotateStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        String key = context.spec().string("key");
        String value = context.spec().string("value");
        context.progress().progress(0, "annotating " + context.input().getFileName());
        OnnxModel model = OnnxModel.read(context.input());
        List<StringStringEntryProto> entries = model.proto().getMetadataPropsList();
        int existing = -1;
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).getKey().equals(key)) {
                existing = i;
            }
        }
        StringStringEntryProto entry = StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
        if (existing < 0) {
            model.proto().addMetadataProps(entry);
        } else if (context.spec().bool("replace")) {
            model.proto().setMetadataProps(existing, entry);
        } else {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, context.spec().label(), "the model already has metadata key '" + key
                    + "' and replace is false");
        }
        model.write(context.outputModel());
        ObjectNode report = JsonNodeFactory.instance.objectNode();
        report.put("key", key);
        report.put("value", value);
        report.put("replaced", existing >= 0);
        return new StageOutcome(context.outputModel(), report, null);
    }
}
