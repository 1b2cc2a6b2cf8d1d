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

/**
 * Evaluates a model on a dataset, optionally against a reference model: accuracy, agreement, per-output fidelity,
 * latency, throughput and size (see {@link EvaluationReport} for every number). The data is streamed batch by batch
 * through both models; only running sums are kept.
 */
public final class Evaluator {
    /** Session pairs timed while the latency budget lasts (at least {@link LatencyComparison#MIN_PAIRS} are). */
    static final int MAX_PAIRS = 16;
    private static final String MODEL = "model";
    private static final String REFERENCE = "reference";

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

        // what the latency measurement needs once the metrics pass has closed its sessions
        List<ValueShape> modelInputs;
        Map<String, String> referenceFeeds;
        int batchSize;
        boolean batchFixed;
        long samples = 0;
        String classOutput;
        Classification classification = null;
        Map<String, EvaluationReport.OutputMetrics> outputMetrics = new LinkedHashMap<>();
        Map<String, Long> nonFinite = new LinkedHashMap<>();
        Map<String, Long> referenceNonFinite = new LinkedHashMap<>();
        try (ModelSession model = ModelSession.open(request.model(), request.session());
             ModelSession reference = request.reference() == null ? null : ModelSession.open(request.reference(), request.session())) {
            modelInputs = model.inputs();
            batchSize = batchSize(model, request.batchSize(), notes);
            batchFixed = isBatchFixed(model);
            referenceFeeds = reference == null ? Map.of() : referenceFeeds(model, reference);
            Map<String, String> outputPairs = reference == null ? Map.of() : outputPairs(model, reference);
            classOutput = classOutput(model, request.accuracyOutput());

            List<OutputComparison> comparisons = new ArrayList<>();
            Map<String, Integer> outputBatchAxes = BatchAxes.ofOutputs(model.inputs(), model.outputs());
            for (ValueShape output : model.outputs()) {
                String referenceName = outputPairs.get(output.name());
                if (referenceName != null && output.type().isFloatingPoint()) {
                    comparisons.add(new OutputComparison(output.name(), referenceName, outputBatchAxes.get(output.name())));
                }
            }

            try (Dataset data = Datasets.open(request.data(), model.inputs(), dataOptions)) {
                if (data.hasLabels() || reference != null) {
                    classification = new Classification(classOutput, outputPairs.get(classOutput), request.accuracyOutput() != null);
                }
                for (Batch batch = data.next(batchSize); batch != null; batch = data.next(batchSize)) {
                    if (batch.size() != batchSize && batchFixed) {
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
                        referenceOutputs = reference == null ? null : reference.run(renamed(batch.inputs(), referenceFeeds));
                    } catch (ModelPressException e) {
                        throw data.explain(e);
                    }
                    countNonFinite(outputs, nonFinite);
                    if (referenceOutputs != null) {
                        countNonFinite(referenceOutputs, referenceNonFinite);
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
            comparisons.forEach(c -> outputMetrics.put(c.name(), c.result()));
        }
        nonFinite.forEach((output, count) -> notes.add(nonFiniteWarning("the model's", output, count, outputMetrics.containsKey(output))));
        referenceNonFinite.forEach((output, count) -> notes.add(nonFiniteWarning("the reference's", output, count, false)));

        EvaluationReport.Timings timings = null;
        EvaluationReport.Timings referenceTimings = null;
        EvaluationReport.SpeedComparison speed = null;
        if (!request.latencyBudget().isZero()) {
            int batchN = (int) Math.min(batchSize, samples);
            List<Integer> batches = new ArrayList<>();
            if (!batchFixed || batchN == 1) {
                batches.add(1);
            }
            if (batchN > 1) {
                batches.add(batchN);
            }
            List<Map<String, HostArray>> workloads = new ArrayList<>();
            for (int batch : batches) {
                workloads.add(firstBatch(request, modelInputs, dataOptions, batch));
            }
            List<InterleavedTiming.Contender> contenders = new ArrayList<>();
            contenders.add(new InterleavedTiming.Contender(MODEL, request.model(), workloads));
            if (request.reference() != null) {
                List<Map<String, HostArray>> referenceWorkloads = workloads.stream().map(w -> renamed(w, referenceFeeds)).toList();
                contenders.add(new InterleavedTiming.Contender(REFERENCE, request.reference(), referenceWorkloads));
            }
            // a verdict needs MIN_PAIRS session pairs; timing the model alone needs more than one session only
            int minBlocks = request.reference() == null ? 2 : LatencyComparison.MIN_PAIRS;
            InterleavedTiming.Result result = InterleavedTiming.run(contenders, InterleavedTiming.Plan.budgeted(request.session(),
                    minBlocks, Math.max(minBlocks, MAX_PAIRS), request.latencyBudget()));
            timings = timings(result, MODEL, batches);
            if (request.reference() != null) {
                referenceTimings = timings(result, REFERENCE, batches);
                speed = speed(result, batches);
            }
        }
        return new EvaluationReport(request.model().toString(), request.reference() == null ? null : request.reference().toString(),
                samples, request.session().intraOpThreads(), classification == null ? null : classOutput,
                classification == null ? null : classification.accuracy(),
                classification == null ? null : classification.referenceAccuracy(),
                classification == null ? null : classification.agreement(),
                outputMetrics, timings, referenceTimings, speed, nonFinite, referenceNonFinite, size, referenceSize, notes);
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

    /** Counts NaN and infinite values per floating-point output; outputs without any are not entered. */
    private static void countNonFinite(Map<String, HostArray> outputs, Map<String, Long> counts) {
        outputs.forEach((name, array) -> {
            if (!array.type().isFloatingPoint()) {
                return;
            }
            long n = 0;
            for (int i = 0; i < array.elementCount(); i++) {
                if (!Double.isFinite(array.get(i))) {
                    n++;
                }
            }
            if (n > 0) {
                counts.merge(name, n, Long::sum);
            }
        });
    }

    private static String nonFiniteWarning(String whose, String output, long count, boolean compared) {
        return "warning: " + whose + " output '" + output + "' holds " + count + " NaN or infinite value" + (count == 1 ? "" : "s")
                + (compared ? ": its cosine, MSE and KL are NaN, and a gate on them fails" : "");
    }

    /** The data's first batch of {@code size} samples: every timed run of a workload, model or reference, runs on it. */
    private static Map<String, HostArray> firstBatch(EvaluationRequest request, List<ValueShape> inputs, DataOptions options, int size) {
        try (Dataset data = Datasets.open(request.data(), inputs, options)) {
            Batch batch = data.next(size);
            if (batch == null) {
                throw new ModelPressException(ErrorCode.BAD_DATA, "data " + request.data(), "holds no samples");
            }
            return batch.inputs();
        }
    }

    /** The reference's feeds: each of its inputs gets the model input array the name map points to. */
    private static Map<String, HostArray> renamed(Map<String, HostArray> arrays, Map<String, String> feedNames) {
        Map<String, HostArray> feeds = new LinkedHashMap<>();
        feedNames.forEach((input, source) -> feeds.put(input, arrays.get(source)));
        return feeds;
    }

    private static EvaluationReport.Timings timings(InterleavedTiming.Result result, String contender, List<Integer> batches) {
        EvaluationReport.Latency batch1 = null;
        EvaluationReport.Latency batchN = null;
        for (int w = 0; w < batches.size(); w++) {
            double[] runs = result.of(contender, w).runs();
            EvaluationReport.Latency latency = new EvaluationReport.Latency(batches.get(w), percentile(runs, 0.50), percentile(runs, 0.95),
                    Arrays.stream(runs).average().orElse(Double.NaN));
            if (batches.get(w) == 1) {
                batch1 = latency;
            } else {
                batchN = latency;
            }
        }
        EvaluationReport.Latency forThroughput = batchN != null ? batchN : batch1;
        return new EvaluationReport.Timings(batch1, batchN, forThroughput.batch() / (forThroughput.meanMs() / 1000.0));
    }

    private static EvaluationReport.SpeedComparison speed(InterleavedTiming.Result result, List<Integer> batches) {
        LatencyComparison batch1 = null;
        LatencyComparison batchN = null;
        for (int w = 0; w < batches.size(); w++) {
            LatencyComparison comparison = LatencyComparison.of(batches.get(w), result.of(MODEL, w).blockRatiosTo(result.of(REFERENCE, w)));
            if (batches.get(w) == 1) {
                batch1 = comparison;
            } else {
                batchN = comparison;
            }
        }
        return new EvaluationReport.SpeedComparison(batch1, batchN);
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
