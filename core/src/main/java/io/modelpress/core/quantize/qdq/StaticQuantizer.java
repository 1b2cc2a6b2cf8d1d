package io.modelpress.core.quantize.qdq;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.modelpress.core.ErrorCode;
import io.modelpress.core.ModelPressException;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.graph.GraphEditor;
import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.onnx.Tensors;
import io.modelpress.core.quantize.OpsetRequirement;
import io.modelpress.core.quantize.QuantizationReport;
import io.modelpress.core.quantize.WeightQuantizer;
import io.modelpress.core.quantize.dynamic.DynamicQuantizer;
import io.modelpress.core.quantize.qdq.calibration.HistogramCollector;
import io.modelpress.core.quantize.qdq.calibration.QuantParams;
import io.modelpress.core.quantize.qdq.calibration.Range;
import io.modelpress.core.quantize.qdq.calibration.RangeCalibrator;
import io.modelpress.core.quantize.qdq.calibration.ValueHistogram;
import io.modelpress.core.recipe.StageSpec;
import io.modelpress.core.transform.BatchNormFolding;
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
        OpsetRequirement.ensure(model, MINIMUM_OPSET, "per-channel DequantizeLinear", report);
        report.note("scheme", settings.describe());
        if (settings.foldBatchNorm()) {
            List<BatchNormFolding.Outcome> outcomes = BatchNormFolding.apply(model);
            long folded = outcomes.stream().filter(BatchNormFolding.Outcome::folded).count();
            if (!outcomes.isEmpty()) {
                report.note("batchnorm_folded", folded + " of " + outcomes.size());
            }
            outcomes.stream().filter(o -> !o.folded()).forEach(o -> report.skipped(o.batchNorm(), "BatchNormalization",
                    "not folded: " + o.skippedReason()));
        }
        QdqPlanner planner = new QdqPlanner(model, settings, ValueTypes.infer(model));
        QdqPlan plan = planner.plan(Map.of());
        if (plan.units.isEmpty()) {
            // nothing to calibrate: the data is not read (nor needed); embedding tables are the only thing left to store in 8 bits
            plan.skipped.forEach(s -> report.skipped(io.modelpress.core.onnx.Graphs.nodeLabel(s.node()), s.node().getOpType(), s.reason()));
            if (settings.embeddings()) {
                DynamicQuantizer.quantizeEmbeddings(model, settings.selector(), report);
            }
            if (report.quantizedCount() == 0) {
                report.nothingToQuantize("node static quantization can turn into an integer kernel (Conv, MatMul or Gemm with a "
                        + "constant weight and the joins around them) and no Gather from a constant float table");
            }
            return report;
        }
        if (data == null || data.isEmpty()) {
            throw new ModelPressException(ErrorCode.DATA_MISMATCH, spec.label(), "static quantization needs calibration data (--data)");
        }
        int threads = Runtime.getRuntime().availableProcessors();
        long start = System.nanoTime();
        Map<String, List<QdqPlan.Unit>> smoothable = settings.smoothQuant().isPresent() ? SmoothQuant.candidates(plan, planner) : Map.of();
        HistogramCollector histograms = HistogramCollector.observe(model, plan.calibratedValues(), smoothable.keySet(), data,
                settings.calibrationSamples(), threads);
        Map<String, QuantParams> params = calibrate(histograms, plan.calibratedValues(), settings);
        Map<String, ValueHistogram> seen = new HashMap<>(histograms.histograms());
        int observed = params.size();

        Set<String> smoothed = Set.of();
        if (settings.smoothQuant().isPresent()) {
            double alpha = settings.smoothQuant().getAsDouble();
            smoothed = SmoothQuant.apply(model, planner, smoothable, histograms, alpha);
            report.note("smoothquant", smoothed.isEmpty()
                    ? "alpha " + alpha + ": nothing to smooth (no MatMul/Gemm reads an activation computed in float; inputs arriving"
                            + " 8-bit from a quantized producer are left as they are)"
                    : "alpha " + alpha + " on " + smoothed.size() + " activation(s) read by MatMul/Gemm");
            if (!smoothed.isEmpty()) {
                planner = new QdqPlanner(model, settings, ValueTypes.infer(model));
                plan = planner.plan(Map.of());
                observed += calibrateMissing(model, plan, params, seen, data, settings, threads);
            }
        }
        if (settings.keepFloat() > 0) {
            Map<Integer, String> kept = mostSensitive(model, planner, plan, seen, params, settings);
            plan = planner.plan(kept);
            observed += calibrateMissing(model, plan, params, seen, data, settings, threads);
        }
        report.note("calibration", String.format(Locale.ROOT, "%s on %d samples, %d values observed, %.1f s, %d KiB of histograms",
                settings.calibration().recipeName(), histograms.samples(), observed,
                (System.nanoTime() - start) / 1e9, histograms.counterBytes() / 1024));
        new QdqWriter(model, planner, plan, params, settings, smoothed).write(report);
        if (settings.embeddings()) {
            // embedding lookups are not integer kernels, but their tables are most of a transformer's bytes
            DynamicQuantizer.quantizeEmbeddings(model, settings.selector(), report);
        }
        GraphEditor.removeUnusedConstants(model);
        return report;
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
