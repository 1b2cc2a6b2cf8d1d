package io.modelpress.core.stage;

import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.qdq.StaticQuantizer;
import io.modelpress.core.quantize.weightonly.WeightOnlyQuantizer;
import io.modelpress.core.recipe.Param;
import io.modelpress.core.recipe.RecipeSchema;

import java.util.Map;

/**
 * Core's own stage types, registered like any other in core's
 * {@code META-INF/services/io.modelpress.core.stage.StageProvider}.
 */
public final class CoreStages {
    private CoreStages() {
    }

    public static final class Quantize implements StageProvider {
        @Override
        public String type() {
            return "quantize";
        }

        @Override
        public Map<String, Param> parameters() {
            return RecipeSchema.QUANTIZE;
        }

        @Override
        public Stage stage() {
            return new QuantizeStage(Map.of(
                    "dynamic", DynamicQuantizer::quantize,
                    "static", StaticQuantizer::quantize,
                    "weight-only", (model, spec, data) -> WeightOnlyQuantizer.quantize(model, spec)));
        }
    }

    public static final class Convert implements StageProvider {
        @Override
        public String type() {
            return "convert";
        }

        @Override
        public Map<String, Param> parameters() {
            return RecipeSchema.CONVERT;
        }

        @Override
        public Stage stage() {
            return new ConvertStage();
        }
    }

    public static final class Eval implements StageProvider {
        @Override
        public String type() {
            return "eval";
        }

        @Override
        public Map<String, Param> parameters() {
            return RecipeSchema.EVAL;
        }

        @Override
        public Stage stage() {
            return new EvalStage();
        }
    }
}
