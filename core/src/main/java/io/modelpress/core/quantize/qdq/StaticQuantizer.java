package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.graph.PassResult;
import io.modelpress.core.graph.Passes;
import io.modelpress.core.onnx.Graphs;
import io.modelpress.core.onnx.Nodes;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.WeightQuantizer;
import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.qdq.OperatorRules.Kind;
import io.modelpress.core.quantize.qdq.calibration.HistogramCollector;
import io.modelpress.core.quantize.qdq.calibration.QuantParams;
import io.modelpress.core.quantize.qdq.calibration.Range;
import io.modelpress.core.quantize.qdq.calibration.RangeCalibrator;
import io.modelpress.core.quantize.qdq.calibration.ValueHistogram;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.transform.BatchNormFolding;
import io.modelpress.core.transform.OpsetRequirement;
import io.modelpress.core.transform.SmoothQuant;
import io.modelpress.core.transform.ValueTypes;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Static (calibrated) INT8 quantization in QDQ form: QuantizeLinear/DequantizeLinear pairs around the operators that
 * ONNX Runtime runs as integer kernels (see {@link OperatorRules}), int8 per-channel weights, int32 biases, and
 * activation ranges calibrated on sample data from streamed histograms. The model stays a standard ONNX model that
 * any runtime can execute; ONNX Runtime fuses each pattern into QLinearConv, QLinearMatMul, QGemm, QLinearAdd...
 *
 * <p>Steps: Conv+BatchNormalization folding, typing of every value, the plan (which nodes and values), calibration
 * of the planned values, optionally leaving the most sensitive layers in float, and the rewrite. Only the main graph
 * is edited; subgraphs stay as they are.
 */
public final class StaticQuantizer {
    /** Per-channel DequantizeLinear (the axis attribute) arrived in opset 13. */
    public static final long MINIMUM_OPSET = 13;

    private StaticQuantizer() {
    }

    /**
     * Quantizes {@code model} in place. A model with nothing to quantize needs no data; the report says why.
     *
     * @throws ModelPressException DATA_MISMATCH without calibration data when there is something to calibrate,
     *                             UNSUPPORTED_OPSET when a model below opset 13 cannot be upgraded,
     *                             BAD_RECIPE for settings static quantization cannot honour
     */
    public static QuantizationReport quantize(OnnxModel model, StageSpec spec, CalibrationData data) {
        StaticSettings settings = StaticSettings.of(spec);
        QuantizationReport report = new QuantizationReport("static");
        Qdq qdq = new Qdq(settings, data, report, spec.label());
        Passes.run(model, Passes.of(
                new OpsetRequirement(MINIMUM_OPSET, "per-channel DequantizeLinear", "static quantization"),
                Passes.note("scheme", settings.describe()),
                settings.foldBatchNorm() ? new BatchNormFolding() : null,
                Passes.simple("qdq", qdq::apply),
                // embedding lookups are not integer kernels, but their tables are most of a transformer's bytes
                settings.embeddings() ? Passes.simple("embeddings", m -> {
                    DynamicQuantizer.quantizeEmbeddings(m, settings.selector(), report);
                    return PassResult.of("embeddings");
                }) : null,
                Passes.simple("unused_constants", m -> PassResult.of("unused_constants")
                        .addChanges(qdq.planned ? GraphEditor.removeUnusedConstants(m) : 0))), report);
        if (!qdq.planned && report.quantizedCount() == 0) {
            // nothing to calibrate: the data was not read (nor needed)
            report.nothingToQuantize("node static quantization can turn into an integer kernel (Conv, MatMul or Gemm with a "
                    + "constant weight and the joins around them) and no Gather from a constant float table");
        }
        return report;
    }

    /** The QDQ pass: plan, calibration (SmoothQuant first where asked), the most sensitive units kept float, the rewrite. */
    private static final class Qdq {
        private final StaticSettings settings;
        private final CalibrationData data;
        private final QuantizationReport report;
        private final String where;
        /** Whether the plan had units, i.e. whether the model was calibrated and rewritten. */
        private boolean planned;

        Qdq(StaticSettings settings, CalibrationData data, QuantizationReport report, String where) {
            this.settings = settings;
            this.data = data;
            this.report = report;
            this.where = where;
        }

        PassResult apply(OnnxModel model) {
            QdqPlanner planner = new QdqPlanner(model, settings, ValueTypes.infer(model));
            QdqPlan plan = planner.plan(Map.of());
            if (plan.units.isEmpty()) {
                plan.skipped.forEach(s -> report.skipped(Graphs.nodeLabel(s.node()), s.node().getOpType(), s.reason()));
                return PassResult.of("qdq");
            }
            planned = true;
            if (data == null || data.isEmpty()) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, where, "static quantization needs calibration data (--data)");
            }
            int threads = Runtime.getRuntime().availableProcessors();
            long start = System.nanoTime();
            Map<String, List<Integer>> smoothable = settings.smoothQuant().isPresent() ? smoothQuantCandidates(plan, planner) : Map.of();
            HistogramCollector histograms = HistogramCollector.observe(model, plan.calibratedValues(), smoothable.keySet(), data,
                    settings.calibrationSamples(), threads);
            Map<String, QuantParams> params = calibrate(histograms, plan.calibratedValues(), settings);
            Map<String, ValueHistogram> seen = new HashMap<>(histograms.histograms());
            int observed = params.size();

            Set<String> smoothed = Set.of();
            if (settings.smoothQuant().isPresent()) {
                SmoothQuant smoothQuant = new SmoothQuant(new SmoothQuant.Options(settings.smoothQuant().getAsDouble(),
                        SmoothQuant.Smoothing.MUL_AFTER_PRODUCER), histograms::channelAbsMax, m -> smoothable);
                report.add(smoothQuant.apply(model));
                smoothed = smoothQuant.smoothedValues();
                if (!smoothed.isEmpty()) {
                    planner = new QdqPlanner(model, settings, ValueTypes.infer(model));
                    plan = planner.plan(Map.of());
                    observed += calibrateMissing(model, plan, params, seen, data, settings, threads);
                }
            }
            if (settings.keepFloat() > 0) {
                Map<Integer, String> kept = weightedUnits(plan) <= MEASURED_UNITS
                        ? measuredMostSensitive(model, plan, params, seen, data, settings, smoothed, threads)
                        : null;
                if (kept == null) {
                    kept = mostSensitive(model, planner, plan, seen, params, settings);
                }
                plan = planner.plan(kept);
                observed += calibrateMissing(model, plan, params, seen, data, settings, threads);
            }
            report.note("calibration", String.format(Locale.ROOT, "%s on %d samples, %d values observed, %.1f s, %d KiB of histograms",
                    settings.calibration().recipeName(), histograms.samples(), observed,
                    (System.nanoTime() - start) / 1e9, histograms.counterBytes() / 1024));
            long before = report.quantizedCount();
            new QdqWriter(model, planner, plan, params, settings, smoothed).write(report);
            return PassResult.of("qdq").addChanges((int) (report.quantizedCount() - before));
        }
    }

    /**
     * SmoothQuant's activations: those computed in float that MatMul/Gemm units read on their last axis (a constant 2-D
     * weight second), with the units' positions. Where a unit's input arrives 8-bit from a quantized producer (a CNN's
     * convolutions), a Mul would force a dequantize-multiply-quantize detour for no range to gain.
     */
    private static Map<String, List<Integer>> smoothQuantCandidates(QdqPlan plan, QdqPlanner planner) {
        Map<String, List<Integer>> byInput = new LinkedHashMap<>();
        for (QdqPlan.Unit unit : plan.units.values()) {
            boolean matrix = unit.kind() == Kind.MATMUL || unit.kind() == Kind.GEMM && Nodes.intAttribute(unit.node(), "transA", 0) == 0;
            if (!matrix) {
                continue;
            }
            TensorProto w = planner.constant(unit.node().getInput(unit.weightSlot())).orElse(null);
            String x = unit.node().getInput(0);
            if (w != null && w.getDimsCount() == 2 && !plan.producedQuantized.contains(x)) {
                byInput.computeIfAbsent(x, k -> new ArrayList<>()).add(unit.position());
            }
        }
        return byInput;
    }

    /** Calibrates the values a new plan needs that earlier passes did not observe; returns how many. */
    private static int calibrateMissing(OnnxModel model, QdqPlan plan, Map<String, QuantParams> params, Map<String, ValueHistogram> seen,
                                        CalibrationData data, StaticSettings settings, int threads) {
        Set<String> missing = new LinkedHashSet<>(plan.calibratedValues());
        missing.removeAll(params.keySet());
        if (!missing.isEmpty()) {
            HistogramCollector more = HistogramCollector.observe(model, missing, data, settings.calibrationSamples(), threads);
            params.putAll(calibrate(more, missing, settings));
            seen.putAll(more.histograms());
        }
        return missing.size();
    }

    private static Map<String, QuantParams> calibrate(HistogramCollector histograms, Set<String> values, StaticSettings settings) {
        Map<String, QuantParams> params = new LinkedHashMap<>();
        for (String value : values) {
            ValueHistogram h = histograms.histogram(value);
            if (h == null || h.count() == 0) {
                throw new ModelPressException(ErrorCode.DATA_MISMATCH, "value '" + value + "'",
                        "received no finite values from the calibration data");
            }
            Range range = RangeCalibrator.range(h, settings.calibration(), settings.activations(), settings.symmetricActivations(),
                    settings.percentile());
            params.put(value, QuantParams.of(range, settings.activations(), settings.symmetricActivations()));
        }
        return params;
    }

    /** Up to this many weighted units, keep_float measures each one's effect on the outputs; beyond, it estimates it. */
    static final int MEASURED_UNITS = 48;
    /** Calibration samples the measured sensitivity runs each trial model on. */
    private static final int SENSITIVITY_SAMPLES = 64;

    private static int weightedUnits(QdqPlan plan) {
        return (int) plan.units.values().stream().filter(u -> u.kind().weighted()).count();
    }

    /**
     * The {@code keep_float} weighted units that change the model's outputs most when quantized alone: for each unit, a
     * copy of the model with only that unit (and the joins around it) in int8 runs on {@value #SENSITIVITY_SAMPLES}
     * calibration samples, and its float outputs are compared with the float model's (squared error over the outputs'
     * mean square). Null when the model has no float output to compare.
     */
    private static Map<Integer, String> measuredMostSensitive(OnnxModel model, QdqPlan plan,
                                                              Map<String, QuantParams> params, Map<String, ValueHistogram> seen,
                                                              CalibrationData data, StaticSettings settings, Set<String> smoothed,
                                                              int threads) {
        List<String> outputs = model.outputs().stream()
                .filter(o -> o.type() == io.modelpress.core.onnx.DataType.FLOAT).map(io.modelpress.core.onnx.ValueShape::name).toList();
        if (outputs.isEmpty()) {
            return null;
        }
        int samples = Math.min(SENSITIVITY_SAMPLES, settings.calibrationSamples());
        Map<String, float[]> reference = outputsOn(model, outputs, data, samples, threads);
        List<Integer> weighted = plan.units.values().stream().filter(u -> u.kind().weighted()).map(QdqPlan.Unit::position).toList();
        record Sensitivity(int position, double error) {
        }
        List<Sensitivity> ranked = new ArrayList<>();
        for (int position : weighted) {
            Map<Integer, String> others = new HashMap<>();
            weighted.stream().filter(p -> p != position).forEach(p -> others.put(p, "measuring another unit"));
            OnnxModel trial = model.copy();
            QdqPlanner trialPlanner = new QdqPlanner(trial, settings, ValueTypes.infer(trial));
            QdqPlan trialPlan = trialPlanner.plan(others);
            calibrateMissing(trial, trialPlan, params, seen, data, settings, threads);
            new QdqWriter(trial, trialPlanner, trialPlan, params, settings, smoothed).write(new QuantizationReport("static"));
            GraphEditor.removeUnusedConstants(trial); // the float weights it replaced: ONNX Runtime would warn about each
            Map<String, float[]> got = outputsOn(trial, outputs, data, samples, threads);
            double error = 0;
            for (String output : outputs) {
                error += relativeError(reference.get(output), got.get(output));
            }
            ranked.add(new Sensitivity(position, error));
        }
        ranked.sort(Comparator.comparingDouble(Sensitivity::error).reversed());
        Map<Integer, String> kept = new HashMap<>();
        for (Sensitivity s : ranked.subList(0, Math.min(settings.keepFloat(), ranked.size()))) {
            kept.put(s.position(), String.format(Locale.ROOT, "kept in float (keep_float: %d): quantized alone it changes the "
                    + "outputs by %.2e (squared error over their mean square on %d samples), among the most of %d units",
                    settings.keepFloat(), s.error(), samples, weighted.size()));
        }
        return kept;
    }

    private static double relativeError(float[] reference, float[] got) {
        double error = 0;
        double power = 0;
        for (int i = 0; i < reference.length; i++) {
            double d = got[i] - reference[i];
            error += d * d;
            power += (double) reference[i] * reference[i];
        }
        return power == 0 ? error : error / power;
    }

    /** The float outputs of a model on the first samples of the calibration data, concatenated batch after batch. */
    private static Map<String, float[]> outputsOn(OnnxModel model, List<String> outputs, CalibrationData data, int samples, int threads) {
        Map<String, List<float[]>> batches = new LinkedHashMap<>();
        ActivationObserver.observe(model, outputs, data, samples, threads, (value, buffer, shape) -> {
            float[] batch = new float[buffer.remaining()];
            buffer.get(batch);
            batches.computeIfAbsent(value, v -> new ArrayList<>()).add(batch);
        });
        Map<String, float[]> values = new LinkedHashMap<>();
        batches.forEach((name, list) -> {
            float[] all = new float[list.stream().mapToInt(b -> b.length).sum()];
            int at = 0;
            for (float[] batch : list) {
                System.arraycopy(batch, 0, all, at, batch.length);
                at += batch.length;
            }
            values.put(name, all);
        });
        return values;
    }

    /**
     * The {@code keep_float} weighted units with the highest quantization noise-to-signal ratio: the expected squared
     * error of their input activation over its mean square (from the histogram) plus the same ratio for their weight.
     */
    private static Map<Integer, String> mostSensitive(OnnxModel model, QdqPlanner planner, QdqPlan plan, Map<String, ValueHistogram> histograms,
                                                      Map<String, QuantParams> params, StaticSettings settings) {
        record Sensitivity(int position, double noise) {
        }
        List<Sensitivity> ranked = new ArrayList<>();
        for (QdqPlan.Unit unit : plan.units.values()) {
            if (!unit.kind().weighted()) {
                continue;
            }
            String input = unit.node().getInput(unit.activationSlots().get(0));
            String source = plan.rangeSource.get(input);
            var values = histograms.get(source).signed();
            double power = values.meanSquare();
            double inputNoise = power == 0 ? 0 : params.get(source).meanSquaredError(values) / power;
            TensorProto weight = planner.constant(unit.node().getInput(unit.weightSlot())).orElseThrow();
            float[] w = model.floats(weight);
            WeightQuantizer.Quantized q = unit.weightAxis() >= 0
                    ? WeightQuantizer.perChannel(w, Tensors.dims(weight), unit.weightAxis(), settings.weights(), true)
                    : WeightQuantizer.perTensor(w, settings.weights(), settings.weightsSymmetric());
            long[] dims = Tensors.dims(weight);
            long inner = 1;
            for (int d = unit.weightAxis() + 1; unit.weightAxis() >= 0 && d < dims.length; d++) {
                inner *= dims[d];
            }
            double error = 0;
            double signal = 0;
            for (int i = 0; i < w.length; i++) {
                int g = unit.weightAxis() >= 0 ? (int) ((i / inner) % q.scales().length) : 0;
                double back = (q.values()[i] - q.zeroPoints()[g]) * (double) q.scales()[g];
                error += (w[i] - back) * (w[i] - back);
                signal += (double) w[i] * w[i];
            }
            ranked.add(new Sensitivity(unit.position(), inputNoise + (signal == 0 ? 0 : error / signal)));
        }
        ranked.sort(Comparator.comparingDouble(Sensitivity::noise).reversed());
        Map<Integer, String> kept = new HashMap<>();
        for (Sensitivity s : ranked.subList(0, Math.min(settings.keepFloat(), ranked.size()))) {
            kept.put(s.position(), String.format(Locale.ROOT, "kept in float (keep_float: %d): quantization noise-to-signal %.2e is among the highest",
                    settings.keepFloat(), s.noise()));
        }
        return kept;
    }
}
