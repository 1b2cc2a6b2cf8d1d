package io.modelpress.core.stage;

import io.modelpress.core.data.InputHints;
import io.modelpress.core.recipe.StageSpec;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a stage needs, the same whether it runs in the CLI or in a pipeline worker.
 *
 * @param input     the model this stage works on (the previous stage's output)
 * @param original  the run's original model: the reference for evaluation and the teacher for distillation
 * @param data      sample data files (npz/npy, IDX, JSONL); may be empty. A file whose name contains "calib" is for
 *                  calibration, another one for evaluation; with one file, it serves both
 * @param tokenizer tokenizer.json for text data, or null (then the one beside the original model, if any)
 * @param workDir   an empty folder the stage owns; it writes its output model there as {@code model.onnx}
 * @param threads   ONNX Runtime intra-op threads the stage may use
 * @param hints     shapes and constant values for model inputs given with the run (the CLI's --shape/--value): they
 *                  shape synthetic inputs and fill inputs a data file lacks, for evaluation and calibration alike; an
 *                  eval stage's own shape/value keys add to them (these win input by input)
 */
public record StageContext(StageSpec spec, Path input, Path original, List<Path> data, Path tokenizer, Path workDir,
                           int threads, ProgressListener progress, InputHints hints) {
    public StageContext {
        data = List.copyOf(data);
        progress = progress == null ? ProgressListener.NONE : progress;
        hints = hints == null ? InputHints.NONE : hints;
    }

    /** A context without input hints. */
    public StageContext(StageSpec spec, Path input, Path original, List<Path> data, Path tokenizer, Path workDir,
                        int threads, ProgressListener progress) {
        this(spec, input, original, data, tokenizer, workDir, threads, progress, InputHints.NONE);
    }

    /** A stage's {@code shape} and {@code value} keys (validated by the recipe parser) as input hints. */
    public static InputHints hintsOf(StageSpec spec) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        spec.object("shape").forEach((input, dims) -> shapes.put(input, InputHints.parseShape(String.valueOf(dims), spec.label() + " shape." + input)));
        Map<String, Number> values = new LinkedHashMap<>();
        spec.object("value").forEach((input, value) -> values.put(input, InputHints.parseValue(String.valueOf(value), spec.label() + " value." + input)));
        return new InputHints(shapes, values);
    }

    /**
     * The input hints of a whole run: every stage's {@code shape}/{@code value} keys (today the eval stage's), so that
     * the stages before it make up the same inputs, overridden input by input by {@code overrides} (the command line).
     */
    public static InputHints hintsOf(List<StageSpec> stages, InputHints overrides) {
        InputHints hints = InputHints.NONE;
        for (StageSpec spec : stages) {
            hints = hints.overriddenBy(hintsOf(spec));
        }
        return hints.overriddenBy(overrides);
    }

    /** The data to calibrate on, or null. */
    public Path calibrationData() {
        return data.stream().filter(StageContext::isCalibration).findFirst().orElse(data.isEmpty() ? null : data.get(0));
    }

    /** The data to evaluate on (kept apart from calibration data when both are given), or null. */
    public Path evaluationData() {
        return data.stream().filter(p -> !isCalibration(p)).findFirst().orElse(data.isEmpty() ? null : data.get(0));
    }

    private static boolean isCalibration(Path file) {
        return file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).contains("calib");
    }

    /** Where a stage that produces a model writes it. */
    public Path outputModel() {
        return workDir.resolve("model.onnx");
    }
}
