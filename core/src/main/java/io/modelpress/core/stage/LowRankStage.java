package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.lowrank.LowRank;
import io.modelpress.core.lowrank.LowRankOptions;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.StageSpec;

import java.util.ArrayList;
import java.util.List;

/**
 * Factorizes MatMul/Gemm weights by truncated SVD ({@link LowRank}) where that lowers the MACs; the pass's report (every
 * node factorized with its rank and retained energy, every one skipped with the reason, the footprint before and
 * after) is the stage report.
 */
final class LowRankStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        context.progress().progress(0.0, "reading " + context.input().getFileName());
        OnnxModel model = OnnxModel.read(context.input());
        LowRankOptions options = LowRankOptions.from(context.spec());
        context.progress().progress(0.1, "factorizing MatMul/Gemm weights");
        ObjectNode json = LowRank.factorize(model, options).toJson();
        context.progress().progress(0.9, "writing the factorized model");
        model.write(context.outputModel());
        json.put("input_bytes", OnnxModel.fileBytes(context.input()));
        json.put("output_bytes", OnnxModel.fileBytes(context.outputModel()));
        return new StageOutcome(context.outputModel(), json, null);
    }

    /** Exactly one of rank_ratio and energy, above 0. */
    static List<String> problems(StageSpec spec) {
        List<String> problems = new ArrayList<>();
        if (spec.has("rank_ratio") == spec.has("energy")) {
            problems.add(spec.has("energy") ? "energy: give either rank_ratio or energy, not both"
                    : "rank_ratio: is required (or energy): the rank kept as a fraction of min(K, N)");
        }
        for (String key : List.of("rank_ratio", "energy")) {
            if (spec.has(key) && spec.number(key) <= 0) {
                problems.add(key + ": must be above 0, found " + spec.number(key));
            }
        }
        return problems;
    }
}
