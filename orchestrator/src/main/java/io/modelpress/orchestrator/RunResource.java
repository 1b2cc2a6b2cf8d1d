package io.modelpress.orchestrator;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.onnx.OnnxProbe;
import io.modelpress.core.recipe.RecipeParser;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.pipeline.events.RunState;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.jboss.resteasy.reactive.RestForm;
import org.jboss.resteasy.reactive.RestStreamElementType;
import org.jboss.resteasy.reactive.multipart.FileUpload;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Runs over HTTP: submit (upload or S3 keys), list, inspect, cancel, and follow a run's progress as server-sent events. */
@Path("/api/runs")
@Produces(MediaType.APPLICATION_JSON)
public class RunResource {
    private static final long MAX_RECIPE_BYTES = 1 << 20;

    @Inject
    RunEngine engine;

    @Inject
    RunStore store;

    @Inject
    Inputs inputs;

    @Inject
    io.modelpress.pipeline.store.ArtifactStore artifacts;

    /**
     * A run over objects already in the bucket.
     *
     * @param name       the model's name in outgoing/ (default: the model's folder, else its file name)
     * @param model      key of the ONNX model
     * @param student    key of an ONNX model to start from instead of {@code model}, which stays the original (the
     *                   teacher of distill, the reference of eval); it must take the model's inputs and give its outputs
     * @param recipe     recipe YAML text
     * @param recipeKey  key of a recipe YAML object
     * @param recipeName a built-in recipe: int8-dynamic, int8-static, int4-weight-only, fp16
     * @param data       keys of sample data files (npz, npy, jsonl, IDX)
     * @param tokenizer  key of a tokenizer.json
     */
    public record SubmitRequest(String name, String model, String student, String recipe, String recipeKey, String recipeName,
                                List<String> data, String tokenizer) {
    }

    @POST
    @ApiAuth.Role(ApiAuth.SUBMIT)
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Operation(summary = "Start a run on an uploaded model",
            description = "Form fields: model (the .onnx file, required), student (an .onnx file to start from instead of "
                    + "the model, with the model's input and output names), recipe (a recipe YAML file) or recipe_name "
                    + "(a built-in recipe), data (sample data files, repeatable), tokenizer (tokenizer.json), name.")
    @APIResponse(responseCode = "201", description = "the run, queued",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = RunState.class)))
    @APIResponse(responseCode = "400", description = "not an ONNX model, a student that does not fit the model, a broken "
            + "recipe, or a missing field",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorMappers.ApiError.class)))
    public Response upload(@RestForm("model") FileUpload model, @RestForm("student") FileUpload student,
                           @RestForm("recipe") FileUpload recipe, @RestForm("recipe_name") String recipeName,
                           @RestForm("data") List<FileUpload> data, @RestForm("tokenizer") FileUpload tokenizer,
                           @RestForm("name") String name) {
        if (model == null) {
            throw badRequest("the form field 'model' (the ONNX model file) is missing");
        }
        checkOnnx(model, model.fileName());
        String recipeYaml = recipe == null ? null : readRecipe(recipe);
        checkRecipe(recipeYaml, recipeYaml == null ? null : "recipe " + recipe.fileName(), recipeName);
        if (student != null) {
            // after the cheap checks: this one reads both models
            checkOnnx(student, "student " + student.fileName());
            Students.check(model.uploadedFile(), model.fileName(), student.uploadedFile(), student.fileName());
        }
        List<Inputs.UploadedFile> dataFiles = new ArrayList<>();
        Set<String> dataNames = new HashSet<>();
        for (FileUpload file : data == null ? List.<FileUpload>of() : data) {
            String fileName = Inputs.fileName(file.fileName());
            if (!dataNames.add(fileName)) {
                throw badRequest("two data files are named '" + fileName + "'");
            }
            dataFiles.add(new Inputs.UploadedFile(file.uploadedFile(), fileName));
        }
        Inputs.UploadedFile modelFile = new Inputs.UploadedFile(model.uploadedFile(), model.fileName());
        Inputs.UploadedFile studentFile = student == null ? null : new Inputs.UploadedFile(student.uploadedFile(), student.fileName());
        Inputs.UploadedFile tokenizerFile = tokenizer == null ? null : new Inputs.UploadedFile(tokenizer.uploadedFile(), tokenizer.fileName());
        RunState run = engine.submit(nameOr(name, model.fileName()),
                runId -> inputs.upload(runId, modelFile, studentFile, recipeYaml, recipeName, dataFiles, tokenizerFile));
        return created(run);
    }

    @POST
    @ApiAuth.Role(ApiAuth.SUBMIT)
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Start a run on objects already in the bucket",
            description = "model is an object key, student optionally another (a model to start from instead, with the "
                    + "model's input and output names); the recipe is given as text (recipe), as an object (recipe_key) or "
                    + "by built-in name (recipe_name), else the bucket's default recipe applies.")
    @APIResponse(responseCode = "201", description = "the run, queued",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = RunState.class)))
    @APIResponse(responseCode = "400", description = "a missing model, a student that does not fit the model, a broken "
            + "recipe or a key that does not exist",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorMappers.ApiError.class)))
    public Response submit(SubmitRequest request) {
        if (request == null || request.model() == null || request.model().isBlank()) {
            throw badRequest("'model' (the object key of the ONNX model) is missing");
        }
        if ((request.recipe() != null ? 1 : 0) + (request.recipeKey() != null ? 1 : 0) + (request.recipeName() != null ? 1 : 0) > 1) {
            throw badRequest("give at most one of 'recipe', 'recipe_key' and 'recipe_name'");
        }
        checkRecipe(request.recipe(), "recipe", request.recipeName());
        List<String> data = request.data() == null ? List.of() : request.data();
        RunState run = engine.submit(nameOr(request.name(), request.model()),
                runId -> inputs.copyKeys(runId, request.model(), request.student(), request.recipeKey(),
                        request.recipe(), request.recipeName(), data, request.tokenizer()));
        return created(run);
    }

    @GET
    @ApiAuth.Role(ApiAuth.READ)
    @Operation(summary = "List runs, newest first", description = "state filters by PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED.")
    public List<RunState> list(@QueryParam("state") String state, @QueryParam("limit") @DefaultValue("100") int limit) {
        if (limit < 1) {
            throw badRequest("limit must be at least 1, got " + limit);
        }
        return store.list(parseState(state)).stream().limit(limit).toList();
    }

    @GET
    @ApiAuth.Role(ApiAuth.READ)
    @Path("{id}")
    @Operation(summary = "A run's current state")
    @APIResponse(responseCode = "404", description = "no such run",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorMappers.ApiError.class)))
    public RunState get(@PathParam("id") String id) {
        return store.get(id).orElseThrow(() -> ApiException.notFound(id));
    }

    @DELETE
    @ApiAuth.Role(ApiAuth.SUBMIT)
    @Path("{id}")
    @Operation(summary = "Cancel a run", description = "The stage in flight finishes on its worker, but its result is ignored.")
    @APIResponse(responseCode = "200", description = "the run, cancelled",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = RunState.class)))
    @APIResponse(responseCode = "404", description = "no such run",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorMappers.ApiError.class)))
    @APIResponse(responseCode = "409", description = "the run has already ended",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorMappers.ApiError.class)))
    public RunState cancel(@PathParam("id") String id) {
        return engine.cancel(id);
    }

    @GET
    @ApiAuth.Role(ApiAuth.READ)
    @Path("{id}/report")
    @Produces({MediaType.TEXT_HTML, MediaType.APPLICATION_JSON})
    @Operation(summary = "A finished run's report", description = "report.html (self-contained: charts as inline SVG), or "
            + "report.json with Accept: application/json; 404 until the run has published its outputs.")
    public Response report(@PathParam("id") String id, @jakarta.ws.rs.HeaderParam("Accept") String accept) {
        RunState run = store.get(id).orElseThrow(() -> ApiException.notFound(id));
        if (run.outgoing() == null) {
            throw new ApiException(404, "NO_REPORT", "run '" + id + "' has no report yet (state " + run.state() + ")");
        }
        boolean json = accept != null && accept.contains(MediaType.APPLICATION_JSON) && !accept.contains(MediaType.TEXT_HTML);
        String key = run.outgoing() + (json ? Outputs.REPORT_JSON : Outputs.REPORT_HTML);
        byte[] bytes = artifacts.getBytes(key).orElseThrow(() -> new ApiException(404, "NO_REPORT", "run '" + id
                + "' has no " + (json ? "report.json" : "report.html") + " under " + run.outgoing()));
        return Response.ok(bytes, json ? MediaType.APPLICATION_JSON_TYPE : MediaType.TEXT_HTML_TYPE.withCharset("utf-8")).build();
    }

    @GET
    @ApiAuth.Role(ApiAuth.READ)
    @Path("{id}/events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    @Operation(summary = "Follow a run", description = "Server-sent events: the run's state now, then after every change "
            + "(stage queued, progress, stage done), ending with its final state.")
    public Multi<RunState> events(@PathParam("id") String id) {
        if (store.get(id).isEmpty()) {
            throw ApiException.notFound(id);
        }
        // Watching takes the run's lock, which the engine holds while it waits for the runs topic - whose completion
        // may need the event loop. So the subscription never runs on the event loop (runSubscriptionOn), and the
        // HTTP writes never run under the lock (emitOn).
        return Multi.createFrom().<RunState>emitter(emitter -> {
            Runnable unwatch = store.watch(id, state -> {
                emitter.emit(state);
                if (state.state().terminal()) {
                    emitter.complete();
                }
            });
            emitter.onTermination(unwatch);
            if (store.get(id).map(r -> r.state().terminal()).orElse(true)) {
                unwatch.run();
            }
        }).runSubscriptionOn(Infrastructure.getDefaultWorkerPool()).emitOn(Infrastructure.getDefaultWorkerPool());
    }

    private static RunState.State parseState(String state) {
        if (state == null || state.isBlank()) {
            return null;
        }
        try {
            return RunState.State.valueOf(state.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw badRequest("state '" + state + "' is not one of " + Arrays.toString(RunState.State.values()));
        }
    }

    /** Rejects what plainly is not an ONNX model before anything is stored; {@code where} names it in the message. */
    private static void checkOnnx(FileUpload model, String where) {
        try (InputStream in = Files.newInputStream(model.uploadedFile())) {
            OnnxProbe.check(in.readNBytes(OnnxProbe.PREFIX_BYTES), model.size(), where);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, where, "cannot be read: " + IoErrors.describe(e), e);
        }
    }

    private static String readRecipe(FileUpload recipe) {
        if (recipe.size() > MAX_RECIPE_BYTES) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, recipe.fileName(), "is larger than 1 MiB; not a recipe");
        }
        try {
            return Files.readString(recipe.uploadedFile(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, recipe.fileName(), "cannot be read as UTF-8 text: " + IoErrors.describe(e), e);
        }
    }

    /** Validates a given recipe before anything is copied: the same parser, the same line/path messages. */
    private static void checkRecipe(String yaml, String where, String builtInName) {
        if (yaml != null && builtInName != null) {
            throw badRequest("give a recipe file or a recipe_name, not both");
        }
        if (yaml != null) {
            RecipeParser.parse(yaml, where);
        }
        if (builtInName != null) {
            Recipes.builtIn(builtInName);
        }
    }

    /** The given name, else the model's folder, else its file name without .onnx. */
    private static String nameOr(String name, String modelKeyOrFile) {
        String chosen = name;
        if (chosen == null || chosen.isBlank()) {
            String[] parts = modelKeyOrFile.split("/");
            chosen = parts.length >= 2 ? parts[parts.length - 2] : parts[parts.length - 1].replaceFirst("(?i)\\.onnx$", "");
        }
        chosen = chosen.trim();
        if (chosen.isEmpty() || chosen.startsWith("/") || chosen.endsWith("/") || Arrays.asList(chosen.split("/")).contains("..")
                || Arrays.asList(chosen.split("/")).contains(".")) {
            throw badRequest("name '" + chosen + "' cannot be used as a folder under outgoing/");
        }
        return chosen;
    }

    private static Response created(RunState run) {
        return Response.created(URI.create("/api/runs/" + run.runId())).entity(run).build();
    }

    private static ApiException badRequest(String message) {
        return new ApiException(400, ErrorCode.BAD_ARGUMENT.name(), message);
    }
}
