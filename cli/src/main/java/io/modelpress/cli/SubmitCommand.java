package io.modelpress.cli;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.Datasets;
import io.modelpress.core.onnx.OnnxProbe;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.pipeline.events.RunState;
import io.modelpress.stack.ApiClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "submit", mixinStandardHelpOptions = true,
        description = {"Upload a model (with an optional student, recipe, sample data and tokenizer) to the orchestrator and "
                + "start a run.",
                "The recipe, the first bytes of the model and the student, and the data files are checked before anything "
                + "is uploaded.",
                "Prints the run id on standard output; follow it with 'modelpress watch RUN'."})
final class SubmitCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "the .onnx file")
    Path model;

    @Option(names = "--recipe", paramLabel = "R", description = "a recipe file, or a built-in name: "
            + "int8-dynamic, int8-static, int4-weight-only, fp16 (default: the bucket's default recipe, else int8-dynamic)")
    String recipe;

    @Option(names = "--data", paramLabel = "D", description = "sample data for calibration and evaluation (npz/npy, IDX, JSONL text); repeatable")
    List<Path> data = new ArrayList<>();

    @Option(names = "--tokenizer", paramLabel = "T", description = "tokenizer.json for text data (default: tokenizer.json beside the model, if any)")
    Path tokenizer;

    @Option(names = "--student", paramLabel = "S", description = "an ONNX model to start from instead of MODEL (same input "
            + "and output names, checked by the orchestrator), e.g. a smaller architecture to distill: the stages work on it, "
            + "MODEL stays the teacher of distill and the reference of eval, as in compress")
    Path student;

    @Option(names = "--name", paramLabel = "N", description = "the model's name: results go to outgoing/<name>/<run>/ (default: the file name)")
    String name;

    @Mixin
    StackOptions stack;

    @Override
    public Integer call() {
        RunState run = submit(stack.apiClient(), model, student, recipe, data, tokenizer, name, stack.err());
        stack.out().println(run.runId());
        stack.out().flush();
        return 0;
    }

    /** @param student a model to start from instead of {@code model}, or null */
    static RunState submit(ApiClient api, Path model, Path student, String recipe, List<Path> data, Path tokenizer, String name,
                           PrintWriter err) {
        // Everything that can be checked here is checked before a byte is uploaded: a typo in the recipe must not
        // cost the upload of a large model first.
        OnnxProbe.check(requireFile(model, "model"), "model " + model);
        if (student != null) {
            OnnxProbe.check(requireFile(student, "student"), "student " + student);
        }
        Path recipeFile = null;
        String recipeName = null;
        if (recipe != null) {
            Recipes.resolve(recipe); // the parser's message with line, column and path when the recipe is broken
            if (Files.isRegularFile(Path.of(recipe))) {
                recipeFile = Path.of(recipe);
            } else {
                recipeName = recipe;
            }
        }
        for (Path file : data) {
            Datasets.formatOf(requireFile(file, "data"));
        }
        Path tokenizerJson = tokenizer;
        if (tokenizerJson != null) {
            requireFile(tokenizerJson, "tokenizer");
        } else {
            Path beside = model.toAbsolutePath().resolveSibling("tokenizer.json");
            if (Files.isRegularFile(beside)) {
                tokenizerJson = beside;
                err.println("using the tokenizer beside the model: " + beside);
            }
        }
        err.println("uploading " + model + " (" + Format.bytes(size(model, "model")) + ")"
                + (student == null ? "" : " and student " + student + " (" + Format.bytes(size(student, "student")) + ")")
                + " to " + api.baseUrl() + " ...");
        err.flush();
        RunState run = api.submit(new ApiClient.Submission(model, recipeFile, recipeName, data, tokenizerJson, name, student));
        err.println("run " + run.runId() + " started (" + run.stages().size() + " stages: "
                + String.join(", ", run.stages().stream().map(RunState.StageStatus::type).toList()) + ")");
        err.flush();
        return run;
    }

    private static long size(Path file, String what) {
        try {
            return Files.size(file);
        } catch (java.io.IOException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, what + " " + file, "cannot be read: " + e.getMessage());
        }
    }

    private static Path requireFile(Path file, String what) {
        if (!Files.exists(file)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, what + " " + file, "does not exist");
        }
        if (!Files.isRegularFile(file)) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, what + " " + file, "is not a file (only files are uploaded)");
        }
        return file;
    }
}
