package io.modelpress.orchestrator;

import io.modelpress.core.ModelPressException;
import io.modelpress.core.compress.Compressor;
import io.modelpress.core.onnx.OnnxModel;

import java.nio.file.Path;

/**
 * A run's student: a model the user gives to start from instead of the run's model (e.g. a smaller architecture to
 * distill), as {@code modelpress compress --student} does. The stages work on the student, the model stays their
 * original (the teacher of distill, the reference of eval), so the student must take the model's inputs and give its
 * outputs, by name (core's {@link Compressor#checkStudent}, the rule of the CLI). That is checked when the run is
 * submitted or its drop copied, before any stage runs: a mismatch found by the first stage would cost a queue wait
 * and a download first.
 */
final class Students {
    /** A run's student is kept in a folder of its own among its inputs, so its file name never meets the model's. */
    static final String FOLDER = "student/";

    private Students() {
    }

    /**
     * Reads both models (a student that is no readable ONNX model is refused like a model) and compares their inputs
     * and outputs by name.
     *
     * @param modelWhere   the model's name in messages: the user's key or file name, never a temporary file's
     * @param studentWhere the student's, likewise
     */
    static void check(Path model, String modelWhere, Path student, String studentWhere) {
        Compressor.checkStudent(read(model, modelWhere), read(student, "student " + studentWhere), studentWhere);
    }

    private static OnnxModel read(Path file, String where) {
        try {
            return OnnxModel.read(file);
        } catch (ModelPressException e) {
            throw e.at(where); // the reader names the temporary file; the user knows the model by its key or upload name
        }
    }
}
