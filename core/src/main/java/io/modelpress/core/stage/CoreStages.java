package io.modelpress.core.stage;

import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.qdq.StaticQuantizer;
import io.modelpress.core.quantize.weightonly.WeightOnlyQuantizer;
import io.modelpress.core.recipe.Param;
import io.modelpress.core.recipe.RecipeSchema;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.recipe.TuningAxis;

import java.util.List;
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
        public List<TuningAxis> tuningAxes(StageSpec spec) {
            return CoreTuningAxes.quantize(spec);
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

    public static final class Prune implements StageProvider {
        @Override
        public String type() {
            return "prune";
        }

        @Override
        public Map<String, Param> parameters() {
            return RecipeSchema.PRUNE;
        }

        @Override
        public List<String> problems(StageSpec spec) {
            return PruneStage.problems(spec);
        }

        @Override
        public List<TuningAxis> tuningAxes(StageSpec spec) {
            return CoreTuningAxes.prune(spec);
        }

        @Override
        public Stage stage() {
            return new PruneStage();
        }
    }

    public static final class LowRank implements StageProvider {
        @Override
        public String type() {
            return "lowrank";
        }

        @Override
        public Map<String, Param> parameters() {
            return RecipeSchema.LOWRANK;
        }

        @Override
        public List<String> problems(StageSpec spec) {
            return LowRankStage.problems(spec);
        }

        @Override
        public List<TuningAxis> tuningAxes(StageSpec spec) {
            return CoreTuningAxes.lowRank(spec);
        }

        @Override
        public Stage stage() {
            return new LowRankStage();
        }
    }
}
