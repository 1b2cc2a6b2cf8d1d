package io.modelpress.orchestrator;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.TempFiles;
import io.modelpress.core.recipe.Recipes;
import io.modelpress.pipeline.events.ArtifactRef;
import io.modelpress.pipeline.store.ArtifactStore;
import io.modelpress.pipeline.store.StoredObject;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Puts a run's inputs in place: copies of the model, its student, recipe, tokenizer and data under
 * {@code runs/<run>/input/}, which no stage ever writes to (the user's drop is never touched either). Also resolves the
 * recipe: given with the model, else the bucket's default recipe, else the built-in default.
 */
@ApplicationScoped
public class Inputs {
    /** Recipes larger than this are not recipes (RecipeParser has the same limit). */
    private static final long MAX_RECIPE_BYTES = 1 << 20;

    @Inject
    ArtifactStore store;

    @Inject
    OrchestratorConfig config;

    /**
     * A run's inputs once copied.
     *
     * @param student      the model to start from instead of {@code model} ({@link Students}), or null
     * @param recipeSource "sibling", "bucket-default", "built-in:&lt;name&gt;" or "api" (see RunState)
     * @param recipeWhere  the recipe's name in error messages, e.g. {@code incoming/bert/recipe.yaml}
     */
    public record RunInputs(ArtifactRef model, ArtifactRef student, List<ArtifactRef> data, ArtifactRef tokenizer,
                            String recipeYaml, String recipeSource, String recipeWhere) {
    }

    /** A file the API received, in a temporary file. */
    public record UploadedFile(Path file, String fileName) {
    }

    static String inputPrefix(String runId) {
        return "runs/" + runId + "/input/";
    }

    /**
     * Copies a dropped model and everything beside it: student.onnx, recipe.yaml, tokenizer.json, data/. The model
     * first, then the student, which is checked against it before anything else is copied.
     */
    RunInputs copyDrop(String runId, Drop drop) {
        String in = inputPrefix(runId);
        ArtifactRef model = store.copy(drop.modelKey(), in + fileName(drop.modelKey()));
        ArtifactRef student = store.exists(drop.studentKey())
                ? copyStudent(runId, drop.studentKey(), model, drop.modelKey()) : null;
        ArtifactRef tokenizer = store.exists(drop.tokenizerKey()) ? store.copy(drop.tokenizerKey(), in + Drop.TOKENIZER) : null;
        List<ArtifactRef> data = new ArrayList<>();
        for (StoredObject object : store.list(drop.dataPrefix())) {
            data.add(store.copy(object.key(), in + Drop.DATA + object.key().substring(drop.dataPrefix().length())));
        }
        RecipeText recipe = store.exists(drop.recipeKey())
                ? copyRecipe(runId, drop.recipeKey(), "sibling")
                : defaultRecipe(runId);
        return new RunInputs(model, student, data, tokenizer, recipe.yaml, recipe.source, recipe.where);
    }

    /**
     * Copies objects named by an API request (keys in the bucket).
     *
     * @param studentKey a student model ({@link Students}), or null
     * @param recipeKey  a recipe object, or null
     * @param recipeYaml recipe text, or null
     * @param recipeName a built-in recipe, or null (at most one of the three)
     */
    RunInputs copyKeys(String runId, String modelKey, String studentKey, String recipeKey, String recipeYaml, String recipeName,
                       List<String> dataKeys, String tokenizerKey) {
        String in = inputPrefix(runId);
        ArtifactRef model = store.copy(modelKey, in + fileName(modelKey));
        ArtifactRef student = studentKey == null ? null : copyStudent(runId, studentKey, model, modelKey);
        ArtifactRef tokenizer = tokenizerKey == null ? null : store.copy(tokenizerKey, in + Drop.TOKENIZER);
        List<ArtifactRef> data = new ArrayList<>();
        for (String key : dataKeys) {
            data.add(store.copy(key, in + Drop.DATA + fileName(key)));
        }
        RecipeText recipe;
        if (recipeKey != null) {
            recipe = copyRecipe(runId, recipeKey, "api");
        } else {
            recipe = givenRecipe(runId, recipeYaml, recipeName);
        }
        return new RunInputs(model, student, data, tokenizer, recipe.yaml, recipe.source, recipe.where);
    }

    /** Uploads files the API received; a student was checked against the model before ({@link Students#check}). */
    RunInputs upload(String runId, UploadedFile model, UploadedFile student, String recipeYaml, String recipeName,
                     List<UploadedFile> dataFiles, UploadedFile tokenizer) {
        String in = inputPrefix(runId);
        ArtifactRef modelRef = store.put(in + fileName(model.fileName()), model.file());
        ArtifactRef studentRef = student == null ? null
                : store.put(in + Students.FOLDER + fileName(student.fileName()), student.file());
        ArtifactRef tokenizerRef = tokenizer == null ? null : store.put(in + Drop.TOKENIZER, tokenizer.file());
        List<ArtifactRef> data = new ArrayList<>();
        for (UploadedFile file : dataFiles) {
            data.add(store.put(in + Drop.DATA + fileName(file.fileName()), file.file()));
        }
        RecipeText recipe = givenRecipe(runId, recipeYaml, recipeName);
        return new RunInputs(modelRef, studentRef, data, tokenizerRef, recipe.yaml, recipe.source, recipe.where);
    }

    /**
     * Copies a student object beside the model copy and checks the copies against each other: both are downloaded
     * (the checksums verified) and read, so a student that does not fit fails the run before any stage.
     */
    private ArtifactRef copyStudent(String runId, String key, ArtifactRef model, String modelKey) {
        ArtifactRef copy = store.copy(key, inputPrefix(runId) + Students.FOLDER + fileName(key));
        Path dir = TempFiles.createDirectory("modelpress-student-");
        try {
            Students.check(store.get(model, dir.resolve("model.onnx")), modelKey, store.get(copy, dir.resolve("student.onnx")), key);
        } finally {
            TempFiles.deleteTree(dir);
        }
        return copy;
    }

    private record RecipeText(String yaml, String source, String where) {
    }

    private RecipeText givenRecipe(String runId, String recipeYaml, String recipeName) {
        if (recipeYaml != null) {
            store.putBytes(inputPrefix(runId) + Drop.RECIPE, recipeYaml.getBytes(StandardCharsets.UTF_8), "application/yaml");
            return new RecipeText(recipeYaml, "api", "recipe");
        }
        if (recipeName != null) {
            return builtIn(runId, recipeName);
        }
        return defaultRecipe(runId);
    }

    private RecipeText defaultRecipe(String runId) {
        String key = config.intake().defaultRecipeKey();
        return store.exists(key) ? copyRecipe(runId, key, "bucket-default") : builtIn(runId, Recipes.DEFAULT);
    }

    private RecipeText builtIn(String runId, String name) {
        String yaml = Recipes.builtInText(name);
        store.putBytes(inputPrefix(runId) + Drop.RECIPE, yaml.getBytes(StandardCharsets.UTF_8), "application/yaml");
        return new RecipeText(yaml, "built-in:" + name, name + ".yaml");
    }

    /** Copies a recipe object beside the model copy and reads it back from the copy (whose SHA-256 is known). */
    private RecipeText copyRecipe(String runId, String key, String source) {
        ArtifactRef copy = store.copy(key, inputPrefix(runId) + Drop.RECIPE);
        if (copy.bytes() > MAX_RECIPE_BYTES) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, key, "is larger than 1 MiB; not a recipe");
        }
        Path temp = null;
        try {
            temp = Files.createTempFile("modelpress-recipe-", ".yaml");
            store.get(copy, temp);
            return new RecipeText(Files.readString(temp, StandardCharsets.UTF_8), source, key);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ModelPressException(ErrorCode.BAD_RECIPE, key, "is not UTF-8 text");
        } catch (IOException e) {
            throw new ModelPressException(ErrorCode.IO_ERROR, key, "cannot be read: " + IoErrors.describe(e), e);
        } finally {
            deleteQuietly(temp);
        }
    }

    /** The last path segment of a key or an uploaded file's name: uploads never choose where they land. */
    static String fileName(String keyOrName) {
        String name = keyOrName.substring(keyOrName.lastIndexOf('/') + 1);
        name = name.substring(name.lastIndexOf('\\') + 1);
        if (name.isBlank() || name.equals(".") || name.equals("..")) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "'" + keyOrName + "'", "has no file name");
        }
        return name;
    }

    private static void deleteQuietly(Path file) {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a temporary file; the OS cleans its temp folder
        }
    }
}
