package io.modelpress.core.eval;

import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.data.Batch;
import io.modelpress.core.data.BatchAxes;
import io.modelpress.core.data.DataOptions;
import io.modelpress.core.data.Dataset;
import io.modelpress.core.data.Datasets;
import io.modelpress.core.data.HostArray;
import io.modelpress.core.onnx.ValueShape;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Evaluates a model on a dataset, optionally against a reference model: accuracy, agreement, per-output fidelity,
 * latency, throughput and size (see {@link EvaluationReport} for every number). The data is streamed batch by batch
 * through both models; only running sums are kept.
 */
public final class Evaluator {
    private Evaluator() {
    }

    public static EvaluationReport run(EvaluationRequest request) {
        List<String> notes = new ArrayList<>();
        if (request.data() == null) {
            notes.add("no data given: measured on synthetic random inputs; fidelity numbers are indicative only");
        }
        EvaluationReport.Size size = ModelFiles.measure(request.model());
        EvaluationReport.Size referenceSize = request.reference() == null ? null : ModelFiles.measure(request.reference());
        DataOptions dataOptions = withDefaultTokenizer(request);

        try (ModelSession model = ModelSession.open(request.model(), request.session());
             ModelSession reference = request.reference() == null ? null : ModelSession.open(request.reference(), request.session())) {
            int batchSize = batchSize(model, request.batchSize(), notes);
            Map<String, String> referenceFeeds = reference == null ? Map.of() : referenceFeeds(model, reference);
            Map<String, String> outputPairs = reference == null ? Map.of() : outputPairs(model, reference);
            String classOutput = classOutput(model, request.accuracyOutput());

            List<OutputComparison> comparisons = new ArrayList<>();
            Map<String, Integer> outputBatchAxes = BatchAxes.ofOutputs(model.inputs(), model.outputs());
            for (ValueShape output : model.outputs()) {
                String referenceName = outputPairs.get(output.name());
                if (referenceName != null && output.type().isFloatingPoint()) {
                    comparisons.add(new OutputComparison(output.name(), referenceName, outputBatchAxes.get(output.name())));
                }
            }

            long samples = 0;
            Classification classification = null;
            try (Dataset data = Datasets.open(request.data(), model.inputs(), dataOptions)) {
                if (data.hasLabels() || reference != null) {
                    classification = new Classification(classOutput, outputPairs.get(classOutput), request.accuracyOutput() != null);
                }
                for (Batch batch = data.next(batchSize); batch != null; batch = data.next(batchSize)) {
                    if (batch.size() != batchSize && isBatchFixed(model)) {
                        if (samples == 0) {
                            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "data " + request.data(), "holds " + batch.size()
                                    + " samples, fewer than the batch size the model fixes (" + batchSize + ")");
                        }
                        notes.add("the last " + batch.size() + " samples were left out: the model's batch size is fixed at " + batchSize);
                        break;
                    }
                    Map<String, HostArray> outputs;
                    Map<String, HostArray> referenceOutputs;
                    try {
                        outputs = model.run(batch.inputs());
                        referenceOutputs = reference == null ? null : reference.run(feeds(batch, referenceFeeds));
                    } catch (ModelPressException e) {
                        throw data.explain(e);
                    }
                    if (classification != null) {
                        classification.add(outputs.get(classOutput), referenceOutputs == null ? null : referenceOutputs.get(outputPairs.get(classOutput)),
                                batch.labels(), batch.size());
                    }
                    for (OutputComparison comparison : comparisons) {
                        comparison.add(outputs.get(comparison.name()), referenceOutputs.get(comparison.referenceName()),
                                batch.attentionMask(), batch.size());
                    }
                    samples += batch.size();
                    request.progress().accept(samples);
                }
            }
            if (samples == 0) {
                throw new ModelPressException(ErrorCode.BAD_DATA, "data " + request.data(), "holds no samples");
            }
            boolean accuracyExpected = request.accuracyOutput() != null || (classification != null && classification.labelled());
            if (classification != null && classification.whyNot() != null && accuracyExpected) {
                notes.add(classification.whyNot());
            }
            for (ValueShape output : model.outputs()) {
                if (reference != null && !output.type().isFloatingPoint()) {
                    notes.add("output '" + output.name() + "' holds " + output.type().displayName()
                            + " values: compared through agreement only, not by cosine/MSE");
                }
            }
            Map<String, EvaluationReport.OutputMetrics> outputMetrics = new LinkedHashMap<>();
            comparisons.forEach(c -> outputMetrics.put(c.name(), c.result()));

            EvaluationReport.Timings timings = null;
            EvaluationReport.Timings referenceTimings = null;
            if (request.timedRuns() > 0) {
                int timingBatch = (int) Math.min(batchSize, samples);
                Map<String, String> ownFeeds = model.inputs().stream().collect(Collectors.toMap(ValueShape::name, ValueShape::name));
                timings = time(model, ownFeeds, model.inputs(), request, dataOptions, timingBatch, isBatchFixed(model));
                if (reference != null) {
                    referenceTimings = time(reference, referenceFeeds, model.inputs(), request, dataOptions, timingBatch, isBatchFixed(model));
                }
            }
            return new EvaluationReport(request.model().toString(), request.reference() == null ? null : request.reference().toString(),
                    samples, request.session().intraOpThreads(), classification == null ? null : classOutput,
                    classification == null ? null : classification.accuracy(),
                    classification == null ? null : classification.referenceAccuracy(),
                    classification == null ? null : classification.agreement(),
                    outputMetrics, timings, referenceTimings, size, referenceSize, notes);
        }
    }

    /** Text data without a tokenizer uses {@code tokenizer.json} beside the model, where exporters put it. */
    private static DataOptions withDefaultTokenizer(EvaluationRequest request) {
        DataOptions options = request.dataOptions();
        if (options.tokenizer() == null) {
            Path beside = request.model().toAbsolutePath().resolveSibling("tokenizer.json");
            if (Files.isRegularFile(beside)) {
                return options.withTokenizer(beside);
            }
        }
        return options;
    }

    /** A model whose inputs fix the batch dimension can only run batches of exactly that size. */
    private static boolean isBatchFixed(ModelSession model) {
        return fixedBatch(model) > 0;
    }

    private static long fixedBatch(ModelSession model) {
        return BatchAxes.fixedBatch(model.inputs());
    }

    private static int batchSize(ModelSession model, int requested, List<String> notes) {
        long fixed = fixedBatch(model);
        if (fixed <= 0 || fixed == requested) {
            return requested;
        }
        if (fixed > Integer.MAX_VALUE) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "model " + model.path().getFileName(),
                    "fixes its batch size at " + fixed + ", which cannot be fed");
        }
        notes.add("batch size " + requested + " replaced by " + fixed + ": the model fixes its batch dimension");
        return (int) fixed;
    }

    /** Which batch array feeds each reference input: the one of the same name, else the model input at the same position. */
    private static Map<String, String> referenceFeeds(ModelSession model, ModelSession reference) {
        List<String> modelNames = names(model.inputs());
        List<String> referenceNames = names(reference.inputs());
        Map<String, String> feeds = new LinkedHashMap<>();
        if (modelNames.containsAll(referenceNames)) {
            referenceNames.forEach(n -> feeds.put(n, n));
        } else if (modelNames.size() == referenceNames.size()) {
            for (int i = 0; i < referenceNames.size(); i++) {
                feeds.put(referenceNames.get(i), modelNames.get(i));
            }
        } else {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "reference " + reference.path().getFileName(),
                    "has inputs (" + String.join(", ", referenceNames) + ") that match the model's inputs ("
                            + String.join(", ", modelNames) + ") neither by name nor by count");
        }
        return feeds;
    }

    /** Model output name -> reference output name: by name when all names match, else by position. */
    private static Map<String, String> outputPairs(ModelSession model, ModelSession reference) {
        List<String> modelNames = names(model.outputs());
        List<String> referenceNames = names(reference.outputs());
        Map<String, String> pairs = new LinkedHashMap<>();
        if (Set.copyOf(referenceNames).containsAll(modelNames)) {
            modelNames.forEach(n -> pairs.put(n, n));
        } else if (modelNames.size() == referenceNames.size()) {
            for (int i = 0; i < modelNames.size(); i++) {
                pairs.put(modelNames.get(i), referenceNames.get(i));
            }
        } else {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, "reference " + reference.path().getFileName(),
                    "has outputs (" + String.join(", ", referenceNames) + ") that match the model's outputs ("
                            + String.join(", ", modelNames) + ") neither by name nor by count");
        }
        return pairs;
    }

    private static String classOutput(ModelSession model, String requested) {
        if (requested == null) {
            return model.outputs().get(0).name();
        }
        if (names(model.outputs()).contains(requested)) {
            return requested;
        }
        throw new ModelPressException(ErrorCode.BAD_ARGUMENT, "accuracy output '" + requested + "'",
                "is not an output of the model (outputs: " + String.join(", ", names(model.outputs())) + ")");
    }

    private static List<String> names(List<ValueShape> values) {
        return values.stream().map(ValueShape::name).toList();
    }

    private static Map<String, HostArray> feeds(Batch batch, Map<String, String> feedNames) {
        Map<String, HostArray> feeds = new LinkedHashMap<>();
        feedNames.forEach((input, source) -> feeds.put(input, batch.inputs().get(source)));
        return feeds;
    }

    /**
     * Latency at batch 1 and at {@code batchN}, each after warm-up, on successive real batches of the data.
     *
     * @param feedNames  session input -> batch array that feeds it
     * @param dataInputs the inputs the data is read for (the evaluated model's, whose names the batches carry)
     */
    private static EvaluationReport.Timings time(ModelSession session, Map<String, String> feedNames, List<ValueShape> dataInputs,
                                                 EvaluationRequest request, DataOptions dataOptions, int batchN, boolean batchFixed) {
        EvaluationReport.Latency batch1 = batchFixed && batchN != 1 ? null : measure(session, feedNames, dataInputs, request, dataOptions, 1);
        EvaluationReport.Latency latencyN = batchN > 1 ? measure(session, feedNames, dataInputs, request, dataOptions, batchN) : null;
        EvaluationReport.Latency forThroughput = latencyN != null ? latencyN : batch1;
        double throughput = forThroughput.batch() / (forThroughput.meanMs() / 1000.0);
        return new EvaluationReport.Timings(batch1, latencyN, throughput);
    }

    private static EvaluationReport.Latency measure(ModelSession session, Map<String, String> feedNames, List<ValueShape> dataInputs,
                                                    EvaluationRequest request, DataOptions dataOptions, int batchSize) {
        int runs = request.warmupRuns() + request.timedRuns();
        double[] millis = new double[request.timedRuns()];
        Dataset data = Datasets.open(request.data(), dataInputs, dataOptions);
        try {
            for (int run = 0; run < runs; run++) {
                Batch batch = data.next(batchSize);
                if (batch == null || batch.size() < batchSize) {
                    // out of full batches: start the data again
                    data.close();
                    data = Datasets.open(request.data(), dataInputs, dataOptions);
                    batch = data.next(batchSize);
                }
                Map<String, HostArray> feeds = feeds(batch, feedNames);
                long start = System.nanoTime();
                session.run(feeds);
                long elapsed = System.nanoTime() - start;
                if (run >= request.warmupRuns()) {
                    millis[run - request.warmupRuns()] = elapsed / 1e6;
                }
            }
        } finally {
            data.close();
        }
        Arrays.sort(millis);
        double mean = Arrays.stream(millis).average().orElse(Double.NaN);
        return new EvaluationReport.Latency(batchSize, percentile(millis, 0.50), percentile(millis, 0.95), mean);
    }

    /** Nearest-rank percentile of sorted values. */
    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
