package io.modelpress.core.quantize.qdq.calibration;

import io.modelpress.core.quantize.QuantType;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RangeCalibratorTest {
    private static final int N = 1_000_000;

    private static ValueHistogram gaussian(long seed, int n, double sigma) {
        Random random = new Random(seed);
        ValueHistogram h = new ValueHistogram();
        for (int i = 0; i < n; i++) {
            h.add((float) (random.nextGaussian() * sigma));
        }
        return h;
    }

    @Test
    void minmaxIsTheExactExtremes() {
        ValueHistogram h = new ValueHistogram();
        h.add(new float[] {-0.75f, 0f, 2.5f, 1e-9f, Float.NaN, Float.POSITIVE_INFINITY});
        Range r = RangeCalibrator.range(h, CalibrationMethod.MINMAX, QuantType.UINT8, false, 100);
        assertThat(r.min()).isEqualTo(-0.75);
        assertThat(r.max()).isEqualTo(2.5);
        assertThat(h.count()).isEqualTo(4);
        assertThat(h.nonFinite()).isEqualTo(2);
    }

    @Test
    void percentileOfAGaussianMatchesItsQuantiles() {
        ValueHistogram h = gaussian(1, N, 2.0);
        // P(|x| < 3.2905 sigma) = 0.999; P(x < 3.0902 sigma) = 0.999
        Range symmetric = RangeCalibrator.range(h, CalibrationMethod.PERCENTILE, QuantType.INT8, true, 99.9);
        assertThat(symmetric.max()).isCloseTo(2 * 3.2905, within(2 * 3.2905 * 0.02));
        assertThat(symmetric.min()).isEqualTo(-symmetric.max());
        Range asymmetric = RangeCalibrator.range(h, CalibrationMethod.PERCENTILE, QuantType.UINT8, false, 99.9);
        assertThat(asymmetric.max()).isCloseTo(2 * 3.0902, within(2 * 3.0902 * 0.02));
        assertThat(asymmetric.min()).isCloseTo(-2 * 3.0902, within(2 * 3.0902 * 0.02));
        // the median of |x| is 0.6745 sigma
        assertThat(h.magnitudes().quantile(0.5)).isCloseTo(2 * 0.6745, within(0.02));
    }

    @Test
    void percentileOfReluOutputsStartsAtZero() {
        Random random = new Random(2);
        ValueHistogram h = new ValueHistogram();
        for (int i = 0; i < 100_000; i++) {
            h.add((float) Math.max(0, random.nextGaussian()));
        }
        Range r = RangeCalibrator.range(h, CalibrationMethod.PERCENTILE, QuantType.UINT8, false, 99.99);
        assertThat(r.min()).isZero();
        assertThat(QuantParams.of(r, QuantType.UINT8, false).zeroPoint()).isZero();
        assertThat(QuantParams.of(r, QuantType.INT8, false).zeroPoint()).isEqualTo(-128);
    }

    @Test
    void entropyIgnoresAFarOutlier() {
        ValueHistogram clean = gaussian(3, N, 1.0);
        ValueHistogram withOutlier = gaussian(3, N, 1.0);
        withOutlier.add(1000f);
        double t = RangeCalibrator.range(clean, CalibrationMethod.ENTROPY, QuantType.INT8, true, 100).max();
        double tOutlier = RangeCalibrator.range(withOutlier, CalibrationMethod.ENTROPY, QuantType.INT8, true, 100).max();
        assertThat(t).isBetween(2.5, 6.0);
        assertThat(tOutlier).isBetween(2.5, 6.0);
        assertThat(tOutlier).isCloseTo(t, within(0.15 * t));
        // minmax would have stretched the grid over the outlier
        assertThat(RangeCalibrator.range(withOutlier, CalibrationMethod.MINMAX, QuantType.INT8, true, 100).max()).isEqualTo(1000);
    }

    @Test
    void entropyOfOneSidedValuesUsesTheWholeUnsignedRange() {
        Random random = new Random(4);
        ValueHistogram h = new ValueHistogram();
        for (int i = 0; i < N; i++) {
            h.add((float) Math.max(0, random.nextGaussian()));
        }
        h.add(500f);
        Range r = RangeCalibrator.range(h, CalibrationMethod.ENTROPY, QuantType.UINT8, false, 100);
        assertThat(r.min()).isZero();
        assertThat(r.max()).isBetween(2.5, 6.0);
    }

    @Test
    void mseClipsAGaussianNearTheKnownOptimum() {
        ValueHistogram h = gaussian(5, N, 1.0);
        Range r = RangeCalibrator.range(h, CalibrationMethod.MSE, QuantType.INT8, true, 100);
        // the 8-bit optimum for a unit Gaussian lies near 4 sigma (ACIQ, Banner et al. 2019)
        assertThat(r.max()).isBetween(3.0, 5.5);
        Distribution values = h.signed();
        double chosen = QuantParams.of(r, QuantType.INT8, true).meanSquaredError(values);
        double minmax = QuantParams.of(new Range(h.min(), h.max()), QuantType.INT8, true).meanSquaredError(values);
        assertThat(chosen).isLessThan(minmax * 0.9);

        Range asymmetric = RangeCalibrator.range(h, CalibrationMethod.MSE, QuantType.UINT8, false, 100);
        assertThat(asymmetric.max()).isBetween(3.0, 5.5);
        assertThat(asymmetric.min()).isBetween(-5.5, -3.0);
    }

    @Test
    void expectedErrorMatchesSimulatedQuantization() {
        Random random = new Random(6);
        float[] samples = new float[200_000];
        ValueHistogram h = new ValueHistogram();
        for (int i = 0; i < samples.length; i++) {
            samples[i] = (float) (random.nextGaussian() * 0.3 + (i % 3 == 0 ? 0 : 1.5));
            h.add(samples[i]);
        }
        for (Range range : new Range[] {new Range(-0.5, 2.0), new Range(h.min(), h.max()), new Range(0, 1)}) {
            for (QuantType type : new QuantType[] {QuantType.UINT8, QuantType.INT8}) {
                QuantParams p = QuantParams.of(range, type, false);
                double simulated = 0;
                for (float x : samples) {
                    long q = Math.max(type.min(), Math.min(type.max(), Math.round(x / p.scale()) + p.zeroPoint()));
                    double back = (q - p.zeroPoint()) * (double) p.scale();
                    simulated += (x - back) * (x - back);
                }
                simulated /= samples.length;
                assertThat(p.meanSquaredError(h.signed())).as("%s %s", range, type).isCloseTo(simulated, within(simulated * 0.05));
            }
        }
    }

    @Test
    void memoryDoesNotGrowWithTheNumberOfValues() {
        ValueHistogram h = new ValueHistogram();
        Random random = new Random(7);
        for (int i = 0; i < 100_000; i++) {
            h.add((float) (random.nextGaussian() * Math.exp(random.nextGaussian() * 3)));
        }
        long early = h.counterBytes();
        for (int i = 0; i < 2_000_000; i++) {
            h.add((float) (random.nextGaussian() * Math.exp(random.nextGaussian() * 3)));
        }
        assertThat(h.counterBytes()).isLessThanOrEqualTo(2L * 254 * ValueHistogram.BUCKETS_PER_OCTAVE * Long.BYTES);
        assertThat(h.counterBytes()).isLessThan(early * 2);
    }

    @Test
    void quantParamsCoverTheRange() {
        QuantParams asym = QuantParams.of(new Range(-1, 3), QuantType.UINT8, false);
        assertThat(asym.min()).isCloseTo(-1.0, within((double) asym.scale()));
        assertThat(asym.max()).isCloseTo(3.0, within((double) asym.scale()));
        QuantParams sym = QuantParams.of(new Range(-1, 3), QuantType.INT8, true);
        assertThat(sym.zeroPoint()).isZero();
        assertThat(sym.scale()).isCloseTo(3f / 127, within(1e-7f));
        QuantParams zero = QuantParams.of(new Range(0, 0), QuantType.UINT8, false);
        assertThat(zero.scale()).isPositive();
    }
}
