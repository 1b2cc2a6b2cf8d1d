package io.modelpress.core.eval;

import java.util.Arrays;
import java.util.Locale;

/**
 * A model's latency against its reference's at one batch size, and what may be said about it.
 *
 * <p>Both models are timed by {@link InterleavedTiming} in the same blocks: each block opens a fresh session of each
 * (in a random order) and times them in interleaved rounds; a block's ratio is the median over its rounds of (model
 * time / reference time in the same round). The rule, with n blocks (session pairs) and their ratios r1..rn:
 *
 * <ul>
 * <li><b>slower</b> when every block found the model slower (all ri &gt; 1), the median ratio is at least
 *     {@value #MIN_CALLED_RATIO} and there are at least {@value #MIN_PAIRS} blocks;</li>
 * <li><b>faster</b> likewise, with every ri &lt; 1 and the median at most 1 / {@value #MIN_CALLED_RATIO};</li>
 * <li><b>no measurable difference</b> otherwise: the spread [min ri, max ri] includes 1, or the difference is under 2 %.</li>
 * </ul>
 *
 * <p>Why it holds: for a model that is no faster or slower than its reference (a byte-identical copy, say), each
 * block's ratio is as likely above 1 as below it, whatever the machine's noise and wherever a session's buffers land,
 * because the two sessions of a block are opened and run in random order. So all n blocks agree only with
 * probability 2 x 2^-n: at most 0.05 % with 12 blocks, 0.003 % with 16 - and the 2 % floor makes it rarer still. A session's
 * placement alone moves its speed by up to 7 %, which is why blocks, not rounds, are the unit: rounds within one
 * pair of sessions agree with each other on placement.
 */
public record LatencyComparison(int batch, double ratio, double ratioMin, double ratioMax, int pairs, Verdict verdict) {
    /** Fewer blocks than this are never called faster or slower. */
    public static final int MIN_PAIRS = 12;
    /** Differences smaller than this factor are not called, whatever the spread. */
    public static final double MIN_CALLED_RATIO = 1.02;

    public enum Verdict {
        FASTER("faster"),
        SLOWER("slower"),
        NO_MEASURABLE_DIFFERENCE("no measurable difference");

        private final String text;

        Verdict(String text) {
            this.text = text;
        }

        /** As the report writes it: "faster", "slower" or "no measurable difference". */
        public String text() {
            return text;
        }
    }

    /** Applies the rule to the per-block ratios (model time / reference time). */
    public static LatencyComparison of(int batch, double[] blockRatios) {
        double[] sorted = blockRatios.clone();
        Arrays.sort(sorted);
        double ratio = InterleavedTiming.median(sorted);
        double min = sorted.length == 0 ? Double.NaN : sorted[0];
        double max = sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1];
        Verdict verdict = Verdict.NO_MEASURABLE_DIFFERENCE;
        if (sorted.length >= MIN_PAIRS && min > 1 && ratio >= MIN_CALLED_RATIO) {
            verdict = Verdict.SLOWER;
        } else if (sorted.length >= MIN_PAIRS && max < 1 && ratio <= 1 / MIN_CALLED_RATIO) {
            verdict = Verdict.FASTER;
        }
        return new LatencyComparison(batch, ratio, min, max, sorted.length, verdict);
    }

    /** One line for people, e.g. "1.57x slower at batch 1 (1.49x-1.63x in 12 session pairs)". */
    public String text() {
        return switch (verdict) {
            case SLOWER -> String.format(Locale.ROOT, "%.2fx slower at batch %d (%.2fx-%.2fx in %d session pairs)",
                    ratio, batch, ratioMin, ratioMax, pairs);
            case FASTER -> String.format(Locale.ROOT, "%.2fx faster at batch %d (%.2fx-%.2fx in %d session pairs)",
                    1 / ratio, batch, 1 / ratioMax, 1 / ratioMin, pairs);
            case NO_MEASURABLE_DIFFERENCE -> String.format(Locale.ROOT,
                    "no measurable difference at batch %d (time ratio %.2f, %.2f-%.2f in %d session pairs)",
                    batch, ratio, ratioMin, ratioMax, pairs);
        };
    }
}
