package io.modelpress.core.quantize.qdq.calibration;

import java.nio.FloatBuffer;

/**
 * The streamed distribution of one tensor's values, in buckets whose width is a fixed fraction of their distance from
 * zero: each power of two is split into {@value #BUCKETS_PER_OCTAVE} buckets, read straight from a float's exponent
 * and top mantissa bits. Relative resolution is therefore the same for tiny and huge values, so one far outlier
 * neither blurs the bulk of the distribution (as a linear histogram stretched to cover it would) nor needs the
 * histogram to be rebuilt.
 *
 * <p>Memory is bounded whatever the number of samples: per sign, one array of {@value #BUCKETS_PER_OCTAVE} counters
 * for each power of two actually seen, at most 254 of them, so at most 2 x 254 x 32 x 8 bytes = 127 KiB per tensor;
 * activations typically span 20 to 40 powers of two (10 to 20 KiB). Exact zeros, the minimum and the maximum are kept
 * exactly. Non-finite values are counted and otherwise ignored.
 */
public final class ValueHistogram {
    static final int MANTISSA_BITS = 5;
    static final int BUCKETS_PER_OCTAVE = 1 << MANTISSA_BITS;
    private static final int SHIFT = 23 - MANTISSA_BITS;
    /** Biased float exponents 0 (subnormals) to 254; 255 is infinity and NaN. */
    private static final int OCTAVES = 255;

    private final long[][] positive = new long[OCTAVES][];
    private final long[][] negative = new long[OCTAVES][];
    private long zeros;
    private long count;
    private long nonFinite;
    private float min = Float.POSITIVE_INFINITY;
    private float max = Float.NEGATIVE_INFINITY;

    public void add(FloatBuffer values) {
        for (int i = values.position(); i < values.limit(); i++) {
            add(values.get(i));
        }
    }

    public void add(float[] values) {
        for (float v : values) {
            add(v);
        }
    }

    public void add(float value) {
        int bits = Float.floatToRawIntBits(value);
        int magnitude = bits & 0x7fffffff;
        if (magnitude >= 0x7f800000) {
            nonFinite++;
            return;
        }
        count++;
        if (value < min) {
            min = value;
        }
        if (value > max) {
            max = value;
        }
        if (magnitude == 0) {
            zeros++;
            return;
        }
        int key = magnitude >>> SHIFT;
        int octave = key >>> MANTISSA_BITS;
        long[][] side = bits < 0 ? negative : positive;
        long[] counts = side[octave];
        if (counts == null) {
            counts = new long[BUCKETS_PER_OCTAVE];
            side[octave] = counts;
        }
        counts[key & (BUCKETS_PER_OCTAVE - 1)]++;
    }

    /** Finite values seen. */
    public long count() {
        return count;
    }

    public long zeros() {
        return zeros;
    }

    public long nonFinite() {
        return nonFinite;
    }

    /** Smallest finite value seen (+infinity when none). */
    public float min() {
        return min;
    }

    /** Largest finite value seen (-infinity when none). */
    public float max() {
        return max;
    }

    /** Bytes of counters currently held (the bounded part of the footprint). */
    public long counterBytes() {
        long arrays = 0;
        for (int o = 0; o < OCTAVES; o++) {
            arrays += (positive[o] != null ? 1 : 0) + (negative[o] != null ? 1 : 0);
        }
        return arrays * BUCKETS_PER_OCTAVE * Long.BYTES;
    }

    /** The values as intervals in ascending order (zeros as the point [0, 0]), edges tightened to [min, max]. */
    public Distribution signed() {
        Distribution.Builder out = new Distribution.Builder();
        for (int o = OCTAVES - 1; o >= 0; o--) {
            long[] counts = negative[o];
            for (int b = BUCKETS_PER_OCTAVE - 1; counts != null && b >= 0; b--) {
                if (counts[b] > 0) {
                    out.add(-upper(o, b), -lower(o, b), counts[b]);
                }
            }
        }
        if (zeros > 0) {
            out.add(0, 0, zeros);
        }
        for (int o = 0; o < OCTAVES; o++) {
            long[] counts = positive[o];
            for (int b = 0; counts != null && b < BUCKETS_PER_OCTAVE; b++) {
                if (counts[b] > 0) {
                    out.add(lower(o, b), upper(o, b), counts[b]);
                }
            }
        }
        return out.build(min, max);
    }

    /** The absolute values, in ascending order (zeros as the point [0, 0]). */
    public Distribution magnitudes() {
        Distribution.Builder out = new Distribution.Builder();
        if (zeros > 0) {
            out.add(0, 0, zeros);
        }
        for (int o = 0; o < OCTAVES; o++) {
            for (int b = 0; b < BUCKETS_PER_OCTAVE; b++) {
                long c = (positive[o] == null ? 0 : positive[o][b]) + (negative[o] == null ? 0 : negative[o][b]);
                if (c > 0) {
                    out.add(lower(o, b), upper(o, b), c);
                }
            }
        }
        return out.build(0, Math.max(Math.abs(min), Math.abs(max)));
    }

    private static double lower(int octave, int bucket) {
        return Float.intBitsToFloat(((octave << MANTISSA_BITS) | bucket) << SHIFT);
    }

    private static double upper(int octave, int bucket) {
        int next = (((octave << MANTISSA_BITS) | bucket) + 1) << SHIFT;
        return next >= 0x7f800000 ? Float.MAX_VALUE : Float.intBitsToFloat(next);
    }
}
