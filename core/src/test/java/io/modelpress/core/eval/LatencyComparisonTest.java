package io.modelpress.core.eval;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static io.modelpress.core.eval.LatencyComparison.Verdict.FASTER;
import static io.modelpress.core.eval.LatencyComparison.Verdict.NO_MEASURABLE_DIFFERENCE;
import static io.modelpress.core.eval.LatencyComparison.Verdict.SLOWER;
import static org.assertj.core.api.Assertions.assertThat;

/** The verdict rule on given per-pair ratios (the measurement itself is tested on real sessions in LatencyVerdictTest). */
class LatencyComparisonTest {
    static final int PAIRS = LatencyComparison.MIN_PAIRS;

    /** {@code PAIRS} ratios: {@code others} everywhere but the given first ones. */
    static double[] ratios(double others, double... first) {
        double[] r = new double[PAIRS];
        Arrays.fill(r, others);
        System.arraycopy(first, 0, r, 0, first.length);
        return r;
    }

    @Test
    void everyPairSlowerIsSlowerWithMedianAndSpread() {
        LatencyComparison c = LatencyComparison.of(1, ratios(1.57, 1.63, 1.49, 1.55, 1.60));
        assertThat(c.verdict()).isEqualTo(SLOWER);
        assertThat(c.ratio()).isEqualTo(1.57);
        assertThat(c.ratioMin()).isEqualTo(1.49);
        assertThat(c.ratioMax()).isEqualTo(1.63);
        assertThat(c.pairs()).isEqualTo(PAIRS);
        assertThat(c.text()).isEqualTo("1.57x slower at batch 1 (1.49x-1.63x in " + PAIRS + " session pairs)");
    }

    @Test
    void everyPairFasterIsFasterInSpeedUpTerms() {
        LatencyComparison c = LatencyComparison.of(32, ratios(0.5, 0.4, 0.52));
        assertThat(c.verdict()).isEqualTo(FASTER);
        assertThat(c.text()).isEqualTo("2.00x faster at batch 32 (1.92x-2.50x in " + PAIRS + " session pairs)");
    }

    @Test
    void aSpreadThatIncludesOneIsNoMeasurableDifference() {
        LatencyComparison c = LatencyComparison.of(1, ratios(1.5, 1.62, 0.98));
        assertThat(c.verdict()).isEqualTo(NO_MEASURABLE_DIFFERENCE);
        assertThat(c.text()).isEqualTo("no measurable difference at batch 1 (time ratio 1.50, 0.98-1.62 in " + PAIRS + " session pairs)");
    }

    @Test
    void agreementOnADifferenceUnderTwoPercentIsNotCalled() {
        assertThat(LatencyComparison.of(1, ratios(1.01, 1.03, 1.001)).verdict()).isEqualTo(NO_MEASURABLE_DIFFERENCE);
        assertThat(LatencyComparison.of(1, ratios(0.99, 0.97, 0.999)).verdict()).isEqualTo(NO_MEASURABLE_DIFFERENCE);
    }

    @Test
    void fewerPairsThanTheMinimumAreNeverCalled() {
        assertThat(LatencyComparison.of(1, Arrays.copyOf(ratios(3), PAIRS - 1)).verdict()).isEqualTo(NO_MEASURABLE_DIFFERENCE);
        assertThat(LatencyComparison.of(1, ratios(3)).verdict()).isEqualTo(SLOWER);
    }
}
