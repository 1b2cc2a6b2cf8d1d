package io.modelpress.cli;

import io.modelpress.cli.client.ApiClient;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.pipeline.events.RunState;
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
        description = {"Upload a model (with an optional recipe, sample data and tokenizer) to the orchestrator and start a run.",
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

    @Option(names = "--name", paramLabel = "N", description = "the model's name: results go to outgoing/<name>/<run>/ (default: the file name)")
    String name;

    @Mixin
    StackOptions stack;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ApiClient api = new ApiClient(stack.apiUrl());
        RunState run = submit(api, model, recipe, data, tokenizer, name, spec.commandLine().getErr());
        spec.commandLine().getOut().println(run.runId());
        spec.commandLine().getOut().flush();
        return 0;
    }

    static RunState submit(ApiClient api, Path model, String recipe, List<Path> data, Path tokenizer, String name, PrintWriter err) {
        Path recipeFile = null;
        String recipeName = null;
        if (recipe != null) {
            if (Files.isRegularFile(Path.of(recipe))) {
                recipeFile = Path.of(recipe);
            } else if (Recipes.BUILT_IN.contains(recipe)) {
                recipeName = recipe;
            } else {
                throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "recipe '" + recipe + "'",
                        "is neither a file nor a built-in recipe; built-in recipes: " + String.join(", ", Recipes.BUILT_IN));
            }
        }
        Path tokenizerJson = tokenizer;
        if (tokenizerJson == null) {
            Path beside = model.toAbsolutePath().resolveSibling("tokenizer.json");
            if (Files.isRegularFile(beside)) {
                tokenizerJson = beside;
                err.println("using the tokenizer beside the model: " + beside);
            }
        }
        err.println("uploading " + model + " (" + Format.bytes(size(model)) + ") to " + api.baseUrl() + " ...");
        err.flush();
        RunState run = api.submit(new ApiClient.Submission(model, recipeFile, recipeName, data, tokenizerJson, name));
        err.println("run " + run.runId() + " started (" + run.stages().size() + " stages: "
                + String.join(", ", run.stages().stream().map(RunState.StageStatus::type).toList()) + ")");
        err.flush();
        return run;
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (java.io.IOException e) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "model " + file, "cannot be read: " + e.getMessage());
        }
    }
}
