package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;

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
    private final Map<String, float[]> channelMaxima = new LinkedHashMap<>();
    private int samples;

    /** Observes {@code values} of {@code model} on at most {@code maxSamples} samples of {@code data}. */
    public static HistogramCollector observe(OnnxModel model, Collection<String> values, CalibrationData data, int maxSamples, int threads) {
        return observe(model, values, java.util.Set.of(), data, maxSamples, threads);
    }

    /**
     * As {@link #observe(OnnxModel, Collection, CalibrationData, int, int)}, also keeping the largest |x| of each
     * channel (index on the last axis) of {@code channelValues}: one float per channel.
     */
    public static HistogramCollector observe(OnnxModel model, Collection<String> values, Collection<String> channelValues,
                                             CalibrationData data, int maxSamples, int threads) {
        HistogramCollector collector = new HistogramCollector();
        values.forEach(v -> collector.histograms.put(v, new ValueHistogram()));
        channelValues.forEach(v -> collector.channelMaxima.put(v, null));
        java.util.Set<String> observed = new java.util.LinkedHashSet<>(values);
        observed.addAll(channelValues);
        collector.samples = ActivationObserver.observe(model, observed, data, maxSamples, threads, collector);
        return collector;
    }

    @Override
    public void accept(String value, FloatBuffer data, long[] shape) {
        histograms.computeIfAbsent(value, v -> new ValueHistogram()).add(data);
        if (channelMaxima.containsKey(value) && shape.length > 0) {
            int channels = (int) shape[shape.length - 1];
            float[] maxima = channelMaxima.get(value);
            if (maxima == null || maxima.length != channels) {
                maxima = new float[channels];
                channelMaxima.put(value, maxima);
            }
            for (int i = data.position(), c = 0; i < data.limit(); i++, c = c + 1 == channels ? 0 : c + 1) {
                maxima[c] = Math.max(maxima[c], Math.abs(data.get(i)));
            }
        }
    }

    /** Largest |x| per channel (last axis) of a value observed with channel maxima, or null. */
    public float[] channelAbsMax(String value) {
        return channelMaxima.get(value);
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
