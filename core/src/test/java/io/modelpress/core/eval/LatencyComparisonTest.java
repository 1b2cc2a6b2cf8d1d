package io.modelpress.core.eval;

import org.junit.jupiter.api.Test;

import static io.modelpress.core.eval.LatencyComparison.Verdict.FASTER;
import static io.modelpress.core.eval.LatencyComparison.Verdict.NO_MEASURABLE_DIFFERENCE;
import static io.modelpress.core.eval.LatencyComparison.Verdict.SLOWER;
import static org.assertj.core.api.Assertions.assertThat;

/** The verdict rule on given per-pair ratios (the measurement itself is tested on real sessions in LatencyVerdictTest). */
class LatencyComparisonTest {
    @Test
    void everyPairSlowerIsSlowerWithMedianAndSpread() {
        LatencyComparison c = LatencyComparison.of(1, new double[] {1.63, 1.49, 1.57, 1.55, 1.60, 1.52, 1.58, 1.56, 1.54, 1.59});
        assertThat(c.verdict()).isEqualTo(SLOWER);
        assertThat(c.ratio()).isEqualTo((1.56 + 1.57) / 2);
        assertThat(c.ratioMin()).isEqualTo(1.49);
        assertThat(c.ratioMax()).isEqualTo(1.63);
        assertThat(c.pairs()).isEqualTo(10);
        assertThat(c.text()).isEqualTo("1.57x slower at batch 1 (1.49x-1.63x in 10 session pairs)");
    }

    @Test
    void everyPairFasterIsFasterInSpeedUpTerms() {
        LatencyComparison c = LatencyComparison.of(32, new double[] {0.5, 0.4, 0.45, 0.5, 0.48, 0.52, 0.5, 0.5, 0.49, 0.51, 0.5});
        assertThat(c.verdict()).isEqualTo(FASTER);
        assertThat(c.text()).isEqualTo("2.00x faster at batch 32 (1.92x-2.50x in 11 session pairs)");
    }

    @Test
    void aSpreadThatIncludesOneIsNoMeasurableDifference() {
        LatencyComparison c = LatencyComparison.of(1, new double[] {1.62, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 0.98});
        assertThat(c.verdict()).isEqualTo(NO_MEASURABLE_DIFFERENCE);
        assertThat(c.text()).isEqualTo("no measurable difference at batch 1 (time ratio 1.50, 0.98-1.62 in 10 session pairs)");
    }

    @Test
    void agreementOnADifferenceUnderTwoPercentIsNotCalled() {
        assertThat(LatencyComparison.of(1, new double[] {1.01, 1.015, 1.012, 1.01, 1.03, 1.011, 1.001, 1.01, 1.018, 1.01}).verdict())
                .isEqualTo(NO_MEASURABLE_DIFFERENCE);
        assertThat(LatencyComparison.of(1, new double[] {0.99, 0.985, 0.99, 0.99, 0.97, 0.99, 0.999, 0.99, 0.982, 0.99}).verdict())
                .isEqualTo(NO_MEASURABLE_DIFFERENCE);
    }

    @Test
    void fewerPairsThanTheMinimumAreNeverCalled() {
        assertThat(LatencyComparison.of(1, new double[] {3, 3, 3, 3, 3, 3, 3, 3, 3}).verdict()).isEqualTo(NO_MEASURABLE_DIFFERENCE);
        assertThat(LatencyComparison.of(1, new double[] {3, 3, 3, 3, 3, 3, 3, 3, 3, 3}).verdict()).isEqualTo(SLOWER);
    }
}
