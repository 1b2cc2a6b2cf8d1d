package io.modelpress.core.quantize.qdq.calibration;

import java.util.Arrays;

/**
 * A distribution as ascending, non-overlapping intervals with counts, the mass of each spread evenly over it (a
 * zero-width interval is a point mass). Calibrators read quantiles and expected quantization errors from it.
 */
public final class Distribution {
    private final double[] lo;
    private final double[] hi;
    private final double[] count;
    private final double total;

    private Distribution(double[] lo, double[] hi, double[] count) {
        this.lo = lo;
        this.hi = hi;
        this.count = count;
        this.total = Arrays.stream(count).sum();
    }

    static final class Builder {
        private double[] lo = new double[64];
        private double[] hi = new double[64];
        private double[] count = new double[64];
        private int n;

        void add(double from, double to, double c) {
            if (n == lo.length) {
                lo = Arrays.copyOf(lo, n * 2);
                hi = Arrays.copyOf(hi, n * 2);
                count = Arrays.copyOf(count, n * 2);
            }
            lo[n] = from;
            hi[n] = to;
            count[n] = c;
            n++;
        }

        /** Clips the outer edges to the exact extremes seen, so no mass lies outside [min, max]. */
        Distribution build(double min, double max) {
            double[] l = Arrays.copyOf(lo, n);
            double[] h = Arrays.copyOf(hi, n);
            for (int i = 0; i < n; i++) {
                l[i] = Math.min(Math.max(l[i], min), max);
                h[i] = Math.min(Math.max(h[i], min), max);
            }
            return new Distribution(l, h, Arrays.copyOf(count, n));
        }
    }

    /** A distribution from raw intervals (for tests and synthetic inputs); they must be ascending and disjoint. */
    public static Distribution of(double[] lo, double[] hi, double[] count) {
        return new Distribution(lo.clone(), hi.clone(), count.clone());
    }

    public int intervals() {
        return lo.length;
    }

    public double total() {
        return total;
    }

    public boolean isEmpty() {
        return total == 0;
    }

    public double min() {
        return lo.length == 0 ? 0 : lo[0];
    }

    public double max() {
        return hi.length == 0 ? 0 : hi[hi.length - 1];
    }

    /** The value below which a fraction {@code q} of the mass lies, interpolated within its interval. */
    public double quantile(double q) {
        if (lo.length == 0) {
            return 0;
        }
        double target = Math.max(0, Math.min(1, q)) * total;
        double before = 0;
        for (int i = 0; i < lo.length; i++) {
            if (before + count[i] >= target) {
                double within = count[i] == 0 ? 0 : (target - before) / count[i];
                return lo[i] + within * (hi[i] - lo[i]);
            }
            before += count[i];
        }
        return hi[hi.length - 1];
    }

    /** Mean of x^2: the signal power that quantization noise is compared with. */
    public double meanSquare() {
        double sum = 0;
        for (int i = 0; i < lo.length; i++) {
            double a = lo[i];
            double b = hi[i];
            sum += count[i] * (a * a + a * b + b * b) / 3;
        }
        return total == 0 ? 0 : sum / total;
    }

    /**
     * Mean squared error of quantizing these values to the grid (q - zeroPoint) * scale, q in [qmin, qmax]: rounding
     * error inside the grid's range, clipping error outside it.
     */
    public double meanSquaredError(double scale, int zeroPoint, int qmin, int qmax) {
        double clipLo = (qmin - zeroPoint) * scale;
        double clipHi = (qmax - zeroPoint) * scale;
        double sum = 0;
        for (int i = 0; i < lo.length; i++) {
            double a = lo[i];
            double b = hi[i];
            if (b <= a) {
                double x = Math.min(Math.max(a, clipLo), clipHi);
                double err = a - (x == a ? scale * Math.floor(a / scale + 0.5) : x);
                sum += count[i] * err * err;
                continue;
            }
            double integral = 0;
            if (a < clipLo) {
                integral += cube(Math.min(b, clipLo) - clipLo, a - clipLo);
            }
            if (b > clipHi) {
                integral += cube(b - clipHi, Math.max(a, clipHi) - clipHi);
            }
            double from = Math.max(a, clipLo);
            double to = Math.min(b, clipHi);
            if (to > from) {
                integral += roundingIntegral(to, scale) - roundingIntegral(from, scale);
            }
            sum += count[i] / (b - a) * integral;
        }
        return total == 0 ? 0 : sum / total;
    }

    /** The integral of (x - c)^2 between two points given relative to c. */
    private static double cube(double toRelative, double fromRelative) {
        return (toRelative * toRelative * toRelative - fromRelative * fromRelative * fromRelative) / 3;
    }

    /**
     * An antiderivative of (x - scale * round(x / scale))^2. With u = x / scale + 1/2, k = floor(u) and f = u - k,
     * every whole grid cell contributes scale^3 / 12 and the partial one scale^3 ((f - 1/2)^3 + 1/8) / 3.
     */
    private static double roundingIntegral(double x, double scale) {
        double u = x / scale + 0.5;
        double k = Math.floor(u);
        double f = u - k - 0.5;
        return scale * scale * scale * (k / 12 + (f * f * f + 0.125) / 3);
    }

    /**
     * Spreads the mass of the positive part lying in [0, limit] over {@code bins} equal bins; point masses at zero are
     * left out (zero is always exact). Mass beyond the limit is not counted: see {@link #massAbove}.
     */
    double[] rebin(double limit, int bins) {
        double[] out = new double[bins];
        double width = limit / bins;
        for (int i = 0; i < lo.length; i++) {
            double a = Math.max(lo[i], 0);
            double b = Math.min(hi[i], limit);
            double c = count[i];
            if (hi[i] <= 0 || c == 0 || (lo[i] == 0 && hi[i] == 0) || a > limit) {
                continue;
            }
            if (hi[i] <= lo[i]) {
                out[Math.min(bins - 1, (int) (a / width))] += c;
                continue;
            }
            double density = c / (hi[i] - lo[i]);
            int first = Math.min(bins - 1, (int) (a / width));
            int last = Math.min(bins - 1, (int) (b / width));
            for (int j = first; j <= last; j++) {
                double overlap = Math.min(b, (j + 1) * width) - Math.max(a, j * width);
                if (overlap > 0) {
                    out[j] += density * overlap;
                }
            }
        }
        return out;
    }

    /** The mass above {@code limit}. */
    double massAbove(double limit) {
        double sum = 0;
        for (int i = 0; i < lo.length; i++) {
            if (hi[i] > limit) {
                sum += hi[i] <= lo[i] ? count[i] : count[i] * (hi[i] - Math.max(lo[i], limit)) / (hi[i] - lo[i]);
            }
        }
        return sum;
    }
}
