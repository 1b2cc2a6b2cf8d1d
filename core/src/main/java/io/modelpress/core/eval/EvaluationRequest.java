package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.InputHints;

import java.nio.file.Path;
import java.time.Duration;
import java.util.function.LongConsumer;

/**
 * What to evaluate and how. Start from {@link #of(Path, Path)} and adjust with the {@code with*} methods.
 *
 * @param model          the ONNX model to evaluate
 * @param reference      the model to compare with (usually the original before compression), or null
 * @param data           a data file or folder (see {@link io.modelpress.core.data.Datasets}); null for seeded synthetic
 *                       inputs (timing and a rough comparison only: the report notes it)
 * @param dataOptions    tokenizer, maximum tokens, IDX split, sample limit, input hints (shapes and values for
 *                       synthetic inputs and for inputs a .npz lacks, see {@link #withHints}). For text data without
 *                       a tokenizer, {@code tokenizer.json} beside the model is used
 * @param batchSize      batch size for the metrics pass and for the batch-N latency (default 32; a model whose batch
 *                       dimension is fixed uses that size instead)
 * @param session        ONNX Runtime settings for both models
 * @param accuracyOutput the output that holds class scores for accuracy and agreement, or null for the first output
 * @param latencyBudget  time for measuring latency (default 6 s; zero skips it): the model and the reference are
 *                       timed together by {@link InterleavedTiming}, in at least {@link LatencyComparison#MIN_PAIRS}
 *                       pairs of fresh sessions however long that takes, and in more pairs and rounds (up to 16
 *                       pairs) while the budget lasts
 * @param progress       told the number of samples done after each batch of the metrics pass
 */
public record EvaluationRequest(Path model, Path reference, Path data, DataOptions dataOptions, int batchSize,
                                SessionSettings session, String accuracyOutput, Duration latencyBudget,
                                LongConsumer progress) {
    public static final int DEFAULT_BATCH_SIZE = 32;
    public static final Duration DEFAULT_LATENCY_BUDGET = Duration.ofSeconds(6);

    public EvaluationRequest {
        if (model == null) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "model", "must be given");
        }
        if (batchSize < 1) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "batch size", "must be at least 1, not " + batchSize);
        }
        if (latencyBudget == null || latencyBudget.isNegative()) {
            throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "latency budget", "must be zero (no latency) or positive");
        }
        dataOptions = dataOptions == null ? DataOptions.DEFAULT : dataOptions;
        session = session == null ? SessionSettings.DEFAULT : session;
        progress = progress == null ? done -> { } : progress;
    }

    public static EvaluationRequest of(Path model, Path data) {
        return new EvaluationRequest(model, null, data, DataOptions.DEFAULT, DEFAULT_BATCH_SIZE, SessionSettings.DEFAULT,
                null, DEFAULT_LATENCY_BUDGET, null);
    }

    public EvaluationRequest withReference(Path value) {
        return new EvaluationRequest(model, value, data, dataOptions, batchSize, session, accuracyOutput, latencyBudget, progress);
    }

    public EvaluationRequest withDataOptions(DataOptions value) {
        return new EvaluationRequest(model, reference, data, value, batchSize, session, accuracyOutput, latencyBudget, progress);
    }

    /** Shapes and constant values for inputs (e.g. {@code input=1x512}, {@code sr=16000}); kept in the data options. */
    public EvaluationRequest withHints(InputHints value) {
        return withDataOptions(dataOptions.withHints(value));
    }

    public EvaluationRequest withBatchSize(int value) {
        return new EvaluationRequest(model, reference, data, dataOptions, value, session, accuracyOutput, latencyBudget, progress);
    }

    public EvaluationRequest withSession(SessionSettings value) {
        return new EvaluationRequest(model, reference, data, dataOptions, batchSize, value, accuracyOutput, latencyBudget, progress);
    }

    public EvaluationRequest withAccuracyOutput(String value) {
        return new EvaluationRequest(model, reference, data, dataOptions, batchSize, session, value, latencyBudget, progress);
    }

    /** Sets the time for latency measurement; {@link Duration#ZERO} skips it. */
    public EvaluationRequest withLatencyBudget(Duration value) {
        return new EvaluationRequest(model, reference, data, dataOptions, batchSize, session, accuracyOutput, value, progress);
    }

    public EvaluationRequest withProgress(LongConsumer value) {
        return new EvaluationRequest(model, reference, data, dataOptions, batchSize, session, accuracyOutput, latencyBudget, value);
    }
}
