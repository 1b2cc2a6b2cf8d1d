package io.modelpress.core.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.eval.DatasetCalibration;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.prune.LayerOptions;
import io.modelpress.core.prune.LayerPruner;
import io.modelpress.core.prune.PruneReport;
import io.modelpress.core.prune.StructuredOptions;
import io.modelpress.core.prune.StructuredPruner;
import io.modelpress.core.prune.sparse.SparsityOptions;
import io.modelpress.core.prune.sparse.SparsityPruner;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stats.ModelFootprint;

import java.util.List;

/**
 * Prunes the model by the recipe's {@code method}: magnitude, n:m and block sparsity zero weights in place
 * ({@link SparsityPruner}; the mask record travels in the model's metadata), structured and layers remove channels,
 * heads or whole blocks ({@link StructuredPruner}, {@link LayerPruner}). The pass's report is the stage report, with
 * the model's footprint (parameters, MACs, raw and gzip bytes) before and after.
 */
final class PruneStage implements Stage {
    @Override
    public StageOutcome run(StageContext context) {
        StageSpec spec = context.spec();
        String method = spec.string("method");
        context.progress().progress(0.0, "reading " + context.input().getFileName());
        OnnxModel model = OnnxModel.read(context.input());
        context.progress().progress(0.1, "pruning (" + method + ")");
        ObjectNode json = switch (method) {
            case "structured", "layers" -> denseRemoval(model, spec, context);
            default -> SparsityPruner.prune(model, SparsityOptions.from(spec)).toJson();
        };
        context.progress().progress(0.9, "writing the pruned model");
        model.write(context.outputModel());
        json.put("input_bytes", OnnxModel.fileBytes(context.input()));
        json.put("output_bytes", OnnxModel.fileBytes(context.outputModel()));
        return new StageOutcome(context.outputModel(), json, null);
    }

    /** Structured or depth pruning; their report's sizes are replaced by the full footprint (gzip bytes included). */
    private static ObjectNode denseRemoval(OnnxModel model, StageSpec spec, StageContext context) {
        ModelFootprint before = ModelFootprint.of(model);
        CalibrationData data = DatasetCalibration.forModel(model, context.calibrationData(), context.tokenizer(), context.hints());
        int samples = (int) spec.integer("samples");
        PruneReport report;
        if (spec.string("method").equals("structured")) {
            report = StructuredPruner.prune(model, structuredOptions(spec).withSamples(samples), data);
        } else {
            LayerOptions options = spec.has("keep") ? LayerOptions.keep((int) spec.integer("keep"))
                    : LayerOptions.drop(spec.integers("drop").stream().map(Long::intValue).toList());
            report = LayerPruner.prune(model, options.withSamples(samples), data);
        }
        ObjectNode json = report.toJson();
        json.set("before", before.toJson());
        json.set("after", (report.changed() ? ModelFootprint.of(model) : before).toJson());
        return json;
    }

    static StructuredOptions structuredOptions(StageSpec spec) {
        Double heads = spec.has("heads") ? spec.number("heads") : null;
        Double ffn = spec.has("ffn") ? spec.number("ffn") : null;
        // only heads and ffn given: nothing else is pruned
        double ratio = spec.has("ratio") ? spec.number("ratio") : 0;
        return StructuredOptions.ratio(ratio).withHeads(heads).withFfn(ffn)
                .withCriterion(spec.string("criterion"))
                .withScope(StructuredOptions.Scope.parse(spec.string("scope")))
                .withRoundTo((int) spec.integer("round_to"))
                .withSelector(spec.selector());
    }

    /** The rules across the prune stage's keys ({@link StageProvider#problems}). */
    static List<String> problems(StageSpec spec) {
        List<String> problems = new java.util.ArrayList<>();
        String method = spec.string("method");
        switch (method) {
            case "magnitude", "block" -> {
                if (!spec.has("ratio")) {
                    problems.add("ratio: is required for method: " + method + " (the fraction of " + (method.equals("block") ? "blocks" : "weights") + " zeroed)");
                }
                if (method.equals("block") && spec.integers("block").size() != 2) {
                    problems.add("block: " + (spec.has("block") ? "expected two integers [rows, cols], found " + spec.integers("block")
                            : "is required for method: block, as [rows, cols]"));
                }
            }
            case "n:m" -> {
                if (spec.integer("n") >= spec.integer("m")) {
                    problems.add("n: must be below m (" + spec.integer("m") + "), found " + spec.integer("n"));
                }
            }
            case "structured" -> {
                if (!spec.has("ratio") && !spec.has("heads") && !spec.has("ffn")) {
                    problems.add("ratio: is required for method: structured unless heads or ffn is given");
                }
            }
            case "layers" -> {
                if (spec.has("drop") == spec.has("keep")) {
                    problems.add((spec.has("drop") ? "keep" : "drop") + ": method: layers takes either drop: [indices] or keep: N"
                            + (spec.has("drop") ? ", not both" : ""));
                }
                List<Long> drop = spec.integers("drop");
                if (spec.has("drop") && (drop.isEmpty() || drop.stream().distinct().count() != drop.size())) {
                    problems.add("drop: must list distinct block indices, found " + drop);
                }
            }
            default -> {
            }
        }
        for (String key : List.of("ratio", "heads", "ffn")) {
            if (spec.has(key) && spec.number(key) >= 1) {
                problems.add(key + ": must be below 1 (removing everything), found " + spec.number(key));
            }
        }
        return problems;
    }
}
