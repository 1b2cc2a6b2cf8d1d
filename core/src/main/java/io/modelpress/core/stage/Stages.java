package io.modelpress.core.stage;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.qdq.StaticQuantizer;
import io.modelpress.core.quantize.weightonly.WeightOnlyQuantizer;
import io.modelpress.core.recipe.RecipeSchema;

import java.util.Map;
import java.util.Set;

/** The stage implementations by recipe stage type. Workers and the CLI find stages here and nowhere else. */
public final class Stages {
    private static final Map<String, Stage> STAGES = Map.of(
            "quantize", new QuantizeStage(Map.of(
                    "dynamic", DynamicQuantizer::quantize,
                    "static", StaticQuantizer::quantize,
                    "weight-only", (model, spec, data) -> WeightOnlyQuantizer.quantize(model, spec))),
            "convert", new ConvertStage(),
            "eval", new EvalStage());

    private Stages() {
    }

    public static Stage forType(String type) {
        Stage stage = STAGES.get(type);
        if (stage == null) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, "stage type '" + type + "'",
                    RecipeSchema.STAGES.containsKey(type) ? "is not implemented yet" : "is unknown; known: " + RecipeSchema.STAGES.keySet());
        }
        return stage;
    }

    public static Set<String> types() {
        return STAGES.keySet();
    }
}
