package io.modelpress.core.compress;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.TempFiles;
import io.modelpress.core.data.InputHints;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.Recipe;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.stage.ProgressListener;
import io.modelpress.core.stage.StageContext;
import io.modelpress.core.stage.StageOutcome;
import io.modelpress.core.stage.Stages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Runs a recipe's stages in-process, one after another, the way the pipeline runs them across workers: each stage
 * gets the previous stage's model, the original model and the data. Writes {@code model.onnx} (plus external data if
 * any) and {@code report.json} to the output folder.
 */
public final class Compressor {
    /** Stage listener for the CLI: which stage, and how far. */
    public interface Listener {
        void stageStarted(StageSpec stage, int count);

        void progress(StageSpec stage, double fraction, String message);

        void stageFinished(StageSpec stage, StageOutcome outcome, Duration took);
    }

    /** @param hints shapes and constant values for model inputs (the CLI's --shape/--value), handed to every stage */
    public record Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads, InputHints hints) {
        public Request {
            data = List.copyOf(data);
            hints = hints == null ? InputHints.NONE : hints;
        }

        public Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads) {
            this(model, recipe, data, tokenizer, outDir, threads, InputHints.NONE);
        }
    }

    /** @param gateFailure the first failed quality gate, or null (none failed, or the recipe sets none: see {@code json.gate}) */
    public record Result(Path model, Path report, ObjectNode json, String gateFailure) {
    }

    private Compressor() {
    }

    /**
     * The headline numbers: sizes, latency and fidelity of the output against the input. {@code latency_vs_input}
     * carries the evaluation's verdicts ({@code latency_vs_reference}: ratio, spread, "faster" / "slower" / "no
     * measurable difference" and a sentence), so that a slower output is said, not left to be worked out.
     */
    static ObjectNode summary(Path input, Path output, ObjectNode evaluation) {
        ObjectNode summary = JsonNodeFactory.instance.objectNode();
        long inBytes = OnnxModel.fileBytes(input);
        long outBytes = OnnxModel.fileBytes(output);
        summary.put("input_bytes", inBytes);
        summary.put("output_bytes", outBytes);
        summary.put("compression_ratio", (double) inBytes / outBytes);
        if (evaluation == null) {
            return summary;
        }
        copy(evaluation, "accuracy", summary, "accuracy");
        copy(evaluation, "reference_accuracy", summary, "input_accuracy");
        copy(evaluation, "agreement", summary, "agreement");
        if (evaluation.get("outputs") instanceof ObjectNode outputs && outputs.size() > 0) {
            var first = outputs.fields().next();
            summary.put("output_compared", first.getKey());
            copy((ObjectNode) first.getValue(), "cosine", summary, "cosine");
        }
        copy(evaluation, "latency_ms", summary, "latency_ms");
        copy(evaluation, "reference_latency_ms", summary, "input_latency_ms");
        copy(evaluation, "latency_vs_reference", summary, "latency_vs_input");
        copy(evaluation, "non_finite_values", summary, "non_finite_values");
        copy(evaluation, "samples", summary, "samples");
        copy(evaluation, "notes", summary, "notes");
        return summary;
    }

    private static void copy(ObjectNode from, String key, ObjectNode to, String as) {
        if (from.has(key)) {
            to.set(as, from.get(key));
        }
    }

    public static Result run(Request request, Listener listener) {
        OnnxModel.read(request.model()); // fail fast, before any work, on a model that cannot be used
        Path work = TempFiles.createDirectory("modelpress-compress-");
        try {
            Files.createDirectories(request.outDir());
            Path current = request.model();
            ObjectNode json = JsonNodeFactory.instance.objectNode();
            json.put("recipe", request.recipe().name());
            json.put("input", request.model().toString());
            json.put("started", Instant.now().toString());
            ArrayNode stages = json.putArray("stages");
            String gateFailure = null;
            boolean gated = false;
            List<StageSpec> plan = new java.util.ArrayList<>(request.recipe().stages());
            if (plan.stream().noneMatch(st -> st.type().equals("eval"))) {
                // every compression ends with the evidence: input versus output
                plan.add(Recipes.finalEvaluation(plan.size()));
            }
            ObjectNode lastEvaluation = null;
            InputHints hints = StageContext.hintsOf(plan, request.hints());
            for (StageSpec spec : plan) {
                listener.stageStarted(spec, plan.size());
                Path stageDir = Files.createDirectories(work.resolve(spec.label()));
                ProgressListener progress = (fraction, message) -> listener.progress(spec, fraction, message);
                StageContext context = new StageContext(spec, current, request.model(), request.data(), request.tokenizer(),
                        stageDir, request.threads(), progress, hints);
                Instant start = Instant.now();
                StageOutcome outcome = Stages.forType(spec.type()).run(context);
                Duration took = Duration.between(start, Instant.now());
                listener.stageFinished(spec, outcome, took);
                ObjectNode stageJson = stages.addObject();
                stageJson.put("stage", spec.label());
                stageJson.put("seconds", took.toMillis() / 1000.0);
                stageJson.set("report", outcome.report());
                current = outcome.model();
                if (spec.type().equals("eval")) {
                    lastEvaluation = outcome.report();
                    gated |= !spec.object("gate").isEmpty();
                }
                if (!outcome.gatePassed()) {
                    stageJson.put("gate_failure", outcome.gateFailure());
                    if (gateFailure == null) {
                        gateFailure = spec.label() + ": " + outcome.gateFailure();
                    }
                }
            }
            Path outModel = request.outDir().resolve("model.onnx");
            OnnxModel.read(current).write(outModel);
            json.put("output", outModel.toString());
            json.set("summary", summary(request.model(), outModel, lastEvaluation));
            json.put("finished", Instant.now().toString());
            json.put("gate", gateFailure != null ? "failed" : gated ? "passed" : "none");
            if (gateFailure != null) {
                json.put("gate_failure", gateFailure);
            }
            Path report = request.outDir().resolve("report.json");
            Files.writeString(report, json.toPrettyString());
            return new Result(outModel, report, json, gateFailure);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, request.outDir().toString(), "cannot be written: " + e.getMessage(), e);
        } finally {
            TempFiles.deleteTree(work);
        }
    }
}
