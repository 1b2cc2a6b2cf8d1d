package io.modelpress.orchestrator;

import java.util.Locale;
import java.util.Optional;

/**
 * A model a user dropped under the intake prefix: {@code incoming/<name>/<file>.onnx}, with its recipe.yaml,
 * tokenizer.json, data/ and student.onnx beside it in {@link #folder}. A model directly under the prefix is named after
 * its file.
 *
 * @param modelKey the object key of the model
 * @param folder   the key prefix of the model's folder, ending in '/'
 * @param name     the model's name: its folder below the intake prefix, or the file name without .onnx
 */
public record Drop(String modelKey, String folder, String name) {

    public static final String RECIPE = "recipe.yaml";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String DATA = "data/";
    /** A model to start from instead of the dropped one (as {@code compress --student}); never a model of its own. */
    public static final String STUDENT = "student.onnx";

    /** The drop an object key stands for, or empty when the key is not a model under the prefix. */
    public static Optional<Drop> of(String intakePrefix, String key) {
        if (!key.startsWith(intakePrefix) || !key.toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            return Optional.empty();
        }
        int slash = key.lastIndexOf('/');
        String folder = key.substring(0, slash + 1);
        String file = key.substring(slash + 1);
        if (file.length() <= ".onnx".length() || folder.endsWith("/" + DATA) || file.equals(STUDENT)) {
            // ".onnx" alone is no name; an .onnx file among a model's data files is data, and a student belongs to the
            // model beside it: neither is a new model
            return Optional.empty();
        }
        String name = folder.length() > intakePrefix.length()
                ? folder.substring(intakePrefix.length(), folder.length() - 1)
                : file.substring(0, file.length() - ".onnx".length());
        return Optional.of(new Drop(key, folder, name));
    }

    public String recipeKey() {
        return folder + RECIPE;
    }

    public String tokenizerKey() {
        return folder + TOKENIZER;
    }

    public String dataPrefix() {
        return folder + DATA;
    }

    public String studentKey() {
        return folder + STUDENT;
    }
}
