package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.onnx.OnnxModel;
import io.modelpress.core.quantize.ActivationObserver;
import io.modelpress.core.quantize.CalibrationData;

import java.nio.FloatBuffer;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs calibration data through a model and keeps one {@link ValueHistogram} per observed value. Only histograms are
 * kept, never activations, so memory is bounded by the number of observed values (see {@link ValueHistogram}) plus
 * one batch, however many samples are observed.
 */
public final class HistogramCollector implements ActivationObserver.Sink {
    private final Map<String, ValueHistogram> histograms = new LinkedHashMap<>();
    private int samples;

    /** Observes {@code values} of {@code model} on at most {@code maxSamples} samples of {@code data}. */
    public static HistogramCollector observe(OnnxModel model, Collection<String> values, CalibrationData data, int maxSamples, int threads) {
        HistogramCollector collector = new HistogramCollector();
        values.forEach(v -> collector.histograms.put(v, new ValueHistogram()));
        collector.samples = ActivationObserver.observe(model, values, data, maxSamples, threads, collector);
        return collector;
    }

    @Override
    public void accept(String value, FloatBuffer data, long[] shape) {
        histograms.computeIfAbsent(value, v -> new ValueHistogram()).add(data);
    }

    public Map<String, ValueHistogram> histograms() {
        return Collections.unmodifiableMap(histograms);
    }

    public ValueHistogram histogram(String value) {
        return histograms.get(value);
    }

    /** Samples the data held. */
    public int samples() {
        return samples;
    }

    /** Bytes of histogram counters held for all values. */
    public long counterBytes() {
        return histograms.values().stream().mapToLong(ValueHistogram::counterBytes).sum();
    }
}
