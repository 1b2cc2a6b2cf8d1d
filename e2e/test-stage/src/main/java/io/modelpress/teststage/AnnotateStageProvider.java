package io.modelpress.teststage;

import io.modelpress.core.recipe.Param;
import io.modelpress.core.stage.Stage;
import io.modelpress.core.stage.StageProvider;

import java.util.LinkedHashMap;
import java.util.Map;

/** The stage type {@code annotate}, with its recipe keys: found by ServiceLoader, registered in this jar's META-INF/services. */
public final class AnnotateStageProvider implements StageProvider {
    @Override
    public String type() {
        return "annotate";
    }

    @Override
    public Map<String, Param> parameters() {
        Map<String, Param> keys = new LinkedHashMap<>();
        keys.put("key", Param.string("key", "annotated-by", "metadata key to write"));
        keys.put("value", Param.string("value", "modelpress-test-stage", "its value"));
        keys.put("replace", Param.bool("replace", true, "replace the key when the model has it; false fails the stage instead"));
        return keys;
    }

    @Override
    public Stage stage() {
        return new AnnotateStage();
    }
}
