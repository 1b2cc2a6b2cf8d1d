package io.modelpress.core.transform;

import io.modelpress.core.eval.ActivationObserver;
import io.modelpress.core.eval.CalibrationData;
import io.modelpress.core.onnx.OnnxModel;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * Per-channel ranges of activations (channels = the last axis, which MatMul contracts), observed on calibration data.
 * Only minima and maxima are kept, so memory does not depend on how much data is seen.
 */
public final class ChannelRanges {
    /** min and max of one activation's channels. */
    public record Range(float[] min, float[] max) {
        public int channels() {
            return min.length;
        }

        /** max |x| per channel. */
        public float[] absMax() {
            float[] out = new float[min.length];
            for (int c = 0; c < out.length; c++) {
                out[c] = Math.max(Math.abs(min[c]), Math.abs(max[c]));
            }
            return out;
        }

        /** The same range after subtracting {@code shift} from each channel. */
        public Range shifted(float[] shift) {
            float[] newMin = new float[min.length];
            float[] newMax = new float[max.length];
            for (int c = 0; c < min.length; c++) {
                newMin[c] = min[c] - shift[c];
                newMax[c] = max[c] - shift[c];
            }
            return new Range(newMin, newMax);
        }
    }

    private final Map<String, Range> ranges;
    private final int samples;

    private ChannelRanges(Map<String, Range> ranges, int samples) {
        this.ranges = ranges;
        this.samples = samples;
    }

    /** Observes the last-axis channels of {@code values} on at most {@code maxSamples} samples of {@code data}. */
    public static ChannelRanges observe(OnnxModel model, Collection<String> values, CalibrationData data, int maxSamples) {
        Map<String, Range> ranges = new HashMap<>();
        int samples = ActivationObserver.observe(model, values, data, maxSamples, 2, (value, buffer, shape) -> {
            int channels = shape.length == 0 ? 1 : (int) shape[shape.length - 1];
            Range range = ranges.computeIfAbsent(value, k -> empty(channels));
            if (range.channels() != channels) {
                return; // a value whose last axis changes between batches has no stable channels
            }
            accumulate(buffer, range);
        });
        return new ChannelRanges(ranges, samples);
    }

    private static Range empty(int channels) {
        float[] min = new float[channels];
        float[] max = new float[channels];
        Arrays.fill(min, Float.POSITIVE_INFINITY);
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        return new Range(min, max);
    }

    private static void accumulate(FloatBuffer buffer, Range range) {
        float[] min = range.min();
        float[] max = range.max();
        int channels = min.length;
        int n = buffer.remaining();
        for (int i = 0; i < n; i++) {
            float v = buffer.get(i);
            int c = i % channels;
            if (v < min[c]) {
                min[c] = v;
            }
            if (v > max[c]) {
                max[c] = v;
            }
        }
    }

    /** The range of a value, or null when it was not observed. */
    public Range range(String value) {
        return ranges.get(value);
    }

    /** max |x| per channel, or null when the value was not observed. */
    public float[] absMax(String value) {
        Range range = ranges.get(value);
        return range == null ? null : range.absMax();
    }

    /** Records that a rewrite subtracted {@code shift} from a value's channels. */
    public void shift(String value, float[] shift) {
        ranges.computeIfPresent(value, (k, r) -> r.shifted(shift));
    }

    public int samples() {
        return samples;
    }
}
