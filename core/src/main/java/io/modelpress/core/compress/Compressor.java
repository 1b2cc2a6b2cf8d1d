package io.modelpress.core.compress;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.TempFiles;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.recipe.Recipe;
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

    public record Request(Path model, Recipe recipe, List<Path> data, Path tokenizer, Path outDir, int threads) {
        public Request {
            data = List.copyOf(data);
        }
    }

    /** @param gateFailure the first failed quality gate, or null */
    public record Result(Path model, Path report, ObjectNode json, String gateFailure) {
    }

    private Compressor() {
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
            for (StageSpec spec : request.recipe().stages()) {
                listener.stageStarted(spec, request.recipe().stages().size());
                Path stageDir = Files.createDirectories(work.resolve(spec.label()));
                ProgressListener progress = (fraction, message) -> listener.progress(spec, fraction, message);
                StageContext context = new StageContext(spec, current, request.model(), request.data(), request.tokenizer(),
                        stageDir, request.threads(), progress);
                Instant start = Instant.now();
                StageOutcome outcome = Stages.forType(spec.type()).run(context);
                Duration took = Duration.between(start, Instant.now());
                listener.stageFinished(spec, outcome, took);
                ObjectNode stageJson = stages.addObject();
                stageJson.put("stage", spec.label());
                stageJson.put("seconds", took.toMillis() / 1000.0);
                stageJson.set("report", outcome.report());
                current = outcome.model();
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
            json.put("finished", Instant.now().toString());
            json.put("gate", gateFailure == null ? "passed" : "failed");
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
