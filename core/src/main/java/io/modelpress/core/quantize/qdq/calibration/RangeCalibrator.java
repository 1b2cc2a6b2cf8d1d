package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.quantize.QuantType;

/**
 * Chooses an activation's quantization range from its histogram. Every method returns a range inside [min, max] of
 * the values seen; {@link QuantParams#of} then turns it into a scale and zero point.
 *
 * <ul>
 * <li>minmax: [min, max].</li>
 * <li>percentile p: symmetric, the p-th percentile of |x|; asymmetric, the (100 - p)-th and p-th percentiles, so
 *     each tail loses (100 - p) % of the values.</li>
 * <li>entropy: TensorRT's KL method. For each candidate threshold t the values are binned into {@value #SUB_BINS}
 *     fine bins per quantization level on [0, t] (values beyond t fall into the last bin, as clipping puts them
 *     there); merging the fine bins of each level, spread back over its non-empty bins, gives the quantized
 *     distribution Q; the t with the least KL(P || Q) wins. Levels: the whole type for a one-sided asymmetric
 *     distribution (ReLU outputs), half of it per side otherwise. Exact zeros are left out: zero is always exact.</li>
 * <li>mse: the range with the least expected squared error of the final grid, rounding and clipping included,
 *     computed exactly on the histogram's piecewise-uniform density. Symmetric: a search over t; asymmetric: a
 *     search over a common shrink factor of both ends, then each end alone.</li>
 * </ul>
 * Candidate thresholds are {@value #STEPS_PER_OCTAVE} per power of two, from the largest value down to 1/4096 of it.
 */
public final class RangeCalibrator {
    static final int SUB_BINS = 16;
    static final int STEPS_PER_OCTAVE = 16;
    static final int OCTAVES_SEARCHED = 12;

    private RangeCalibrator() {
    }

    /**
     * @param percentile for {@link CalibrationMethod#PERCENTILE}, in (0, 100]
     */
    public static Range range(ValueHistogram histogram, CalibrationMethod method, QuantType type, boolean symmetric, double percentile) {
        if (histogram.count() == 0) {
            return new Range(0, 0);
        }
        Range full = new Range(histogram.min(), histogram.max());
        Range chosen = switch (method) {
            case MINMAX -> full;
            case PERCENTILE -> percentile(histogram, symmetric, percentile);
            case ENTROPY -> entropy(histogram, type, symmetric);
            case MSE -> mse(histogram, type, symmetric);
        };
        return new Range(Math.max(chosen.min(), full.min()), Math.min(chosen.max(), full.max()));
    }

    private static Range percentile(ValueHistogram histogram, boolean symmetric, double percentile) {
        double p = percentile / 100;
        if (symmetric) {
            double t = histogram.magnitudes().quantile(p);
            return new Range(-t, t);
        }
        Distribution values = histogram.signed();
        return new Range(values.quantile(1 - p), values.quantile(p));
    }

    private static Range entropy(ValueHistogram histogram, QuantType type, boolean symmetric) {
        int levels = type.max() - type.min() + 1;
        if (!symmetric && histogram.min() >= 0) {
            return new Range(0, klThreshold(histogram.signed(), histogram.max(), levels));
        }
        if (!symmetric && histogram.max() <= 0) {
            return new Range(-klThreshold(histogram.magnitudes(), -histogram.min(), levels), 0);
        }
        double t = klThreshold(histogram.magnitudes(), Math.max(-histogram.min(), histogram.max()), levels / 2);
        return new Range(-t, t);
    }

    /** The threshold on [0, max] of non-negative values whose quantization to {@code levels} levels loses least. */
    static double klThreshold(Distribution nonNegative, double max, int levels) {
        if (max <= 0) {
            return 0;
        }
        double best = max;
        double bestKl = Double.POSITIVE_INFINITY;
        for (int step = 0; step <= STEPS_PER_OCTAVE * OCTAVES_SEARCHED; step++) {
            double t = max * Math.pow(2, -(double) step / STEPS_PER_OCTAVE);
            double kl = klDivergence(nonNegative.rebin(t, levels * SUB_BINS), nonNegative.massAbove(t), levels);
            if (kl < bestKl) {
                bestKl = kl;
                best = t;
            }
        }
        return best;
    }

    /**
     * KL(P || Q) for one threshold. P: the fine bins with the clipped mass added to the last one (where clipping puts
     * it). Q: the fine bins without it, merged per quantization level and spread back over the level's non-empty
     * bins. A P bin that Q leaves empty gets Q's smallest resolvable mass, so clipping always costs.
     */
    static double klDivergence(double[] inside, double clipped, int levels) {
        double insideTotal = 0;
        for (double v : inside) {
            insideTotal += v;
        }
        double pTotal = insideTotal + clipped;
        if (insideTotal == 0 || pTotal == 0) {
            return Double.POSITIVE_INFINITY;
        }
        int sub = inside.length / levels;
        double floor = 1e-12;
        double kl = 0;
        for (int level = 0; level < levels; level++) {
            double mass = 0;
            int nonEmpty = 0;
            for (int j = level * sub; j < (level + 1) * sub; j++) {
                mass += inside[j];
                nonEmpty += inside[j] > 0 ? 1 : 0;
            }
            for (int j = level * sub; j < (level + 1) * sub; j++) {
                double p = (inside[j] + (j == inside.length - 1 ? clipped : 0)) / pTotal;
                if (p <= 0) {
                    continue;
                }
                double q = inside[j] > 0 ? mass / nonEmpty / insideTotal : 0;
                kl += p * Math.log(p / Math.max(q, floor));
            }
        }
        return kl;
    }

    private static Range mse(ValueHistogram histogram, QuantType type, boolean symmetric) {
        Distribution values = histogram.signed();
        Range full = new Range(histogram.min(), histogram.max()).withZero();
        if (symmetric) {
            double bestT = full.absMax();
            double bestError = Double.POSITIVE_INFINITY;
            for (int step = 0; step <= STEPS_PER_OCTAVE * OCTAVES_SEARCHED; step++) {
                double t = full.absMax() * Math.pow(2, -(double) step / STEPS_PER_OCTAVE);
                double error = QuantParams.of(new Range(-t, t), type, true).meanSquaredError(values);
                if (error < bestError) {
                    bestError = error;
                    bestT = t;
                }
            }
            return new Range(-bestT, bestT);
        }
        Range best = full;
        double bestError = error(values, full, type);
        for (int step = 1; step <= STEPS_PER_OCTAVE * OCTAVES_SEARCHED; step++) {
            double shrink = Math.pow(2, -(double) step / STEPS_PER_OCTAVE);
            Range candidate = new Range(full.min() * shrink, full.max() * shrink);
            double e = error(values, candidate, type);
            if (e < bestError) {
                bestError = e;
                best = candidate;
            }
        }
        // then each end on its own, the other held
        Range start = best;
        for (int step = 1; step <= STEPS_PER_OCTAVE * OCTAVES_SEARCHED; step++) {
            double shrink = Math.pow(2, -(double) step / STEPS_PER_OCTAVE);
            for (Range candidate : new Range[] {new Range(full.min() * shrink, start.max()), new Range(start.min(), full.max() * shrink)}) {
                double e = error(values, candidate, type);
                if (e < bestError) {
                    bestError = e;
                    best = candidate;
                }
            }
        }
        return best;
    }

    private static double error(Distribution values, Range range, QuantType type) {
        return QuantParams.of(range, type, false).meanSquaredError(values);
    }
}
